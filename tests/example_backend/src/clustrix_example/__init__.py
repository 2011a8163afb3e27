"""An example third-party Clustrix backend, written as an outside author would."""
