"""The six distributions built once per test session, and clean venvs to install them into.

The wheels come from tools/dists.py, the code ``nox -s build`` runs (here with the build
backend installed once instead of an isolated environment per build, to keep the suite
fast). Installs use pip's cache; the package index supplies pluggy, paramiko and the rest.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "tools"))  # versions.py, dists.py

from clean_venv import ROOT, new_venv, run


@pytest.fixture(scope="session")
def build_tools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the `build` package and setuptools; its bin/ directory."""
    where = tmp_path_factory.mktemp("build-tools")
    tools = new_venv(where / "venv")
    run([str(tools / "pip"), "install", "-q", "build", "setuptools>=77"], where)
    return tools


@pytest.fixture(scope="session")
def wheelhouse(build_tools: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout's six sdists and wheels, built once per session."""
    out = tmp_path_factory.mktemp("wheelhouse") / "dist"
    built = run(
        [str(build_tools / "python"), str(ROOT / "tools" / "dists.py"), "build", str(out), "--no-isolation"], out.parent
    )
    print(built)
    return out


@pytest.fixture
def resolve_only(build_tools: Path) -> list[str]:
    """`pip install --dry-run` as if nothing were installed: what pip would choose, installing nothing."""
    return [str(build_tools / "pip"), "install", "--dry-run", "--ignore-installed", "-q"]
