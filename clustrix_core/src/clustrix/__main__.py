"""``python -m clustrix``: the same as the ``clustrix`` command."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="clustrix")
