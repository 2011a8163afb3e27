"""Shared fixtures: an isolated Clustrix home and config per test."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def clustrix_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own job store and job dirs, and no user config."""
    home = tmp_path_factory.mktemp("clustrix-home")
    home.chmod(0o755)
    monkeypatch.setenv("CLUSTRIX_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg-config"))
    for key in list(os.environ):
        if key.startswith("CLUSTRIX_") and key != "CLUSTRIX_HOME":
            monkeypatch.delenv(key)
    from clustrix import configure

    configure(reset=True)
    # this suite's schedulers are its own, on one node: ask them as often as a test needs to see
    # a job they ended (a cancel, a kill) within a second; the default budget (2 a minute) is for
    # shared sites, and tests/slurm/test_status_budget.py holds a job to a budget of its own
    configure(status_queries_per_minute=60)
    yield home
    configure(reset=True)
    from clustrix.store import close_store

    close_store(home)  # or a long run exhausts file descriptors (select() fails past 1024 in paramiko)
