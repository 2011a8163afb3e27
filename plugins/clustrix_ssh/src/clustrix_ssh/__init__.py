"""Clustrix backend ``ssh``: run jobs detached on a plain SSH host (``cluster_type="ssh"``)."""

from .backend import SSHBackend

plugin = SSHBackend()

__all__ = ["SSHBackend", "plugin"]
