"""Clean venvs and commands run in them, for the install tests (nothing from the checkout leaks in)."""

from __future__ import annotations

import os
import subprocess
import venv
from collections.abc import Sequence
from pathlib import Path

from versions import read  # tools/, put on sys.path by conftest.py

ROOT = Path(__file__).parents[2]

VERSION = read()[0].version


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without what would let a venv see the checkout or the suite's own venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return env | {"PIP_DISABLE_PIP_VERSION_CHECK": "1"} | extra


def run(argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run a command to completion; its stdout, or a failure that shows what it printed."""
    done = subprocess.run(list(argv), cwd=cwd, env=env or clean_env(), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"`{' '.join(argv)}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def new_venv(path: Path) -> Path:
    """A venv with nothing but pip; its bin/ directory."""
    venv.create(path, with_pip=True, symlinks=True)
    return path / "bin"
