"""Real-Slurm fixtures: the infrastructure check, the accounting mode, the backend options.

The Slurm suite runs twice in CI, once per accounting mode; ``CLUSTRIX_SLURM_ACCOUNTING``
says which one the infrastructure was brought up in, and the suite checks that it is so:

    sudo WITH_SLURMDBD=1 bash tests/infra/up.sh ssh slurm && CLUSTRIX_SLURM_ACCOUNTING=on  pytest tests/slurm
    sudo WITH_SLURMDBD=0 bash tests/infra/up.sh ssh slurm && CLUSTRIX_SLURM_ACCOUNTING=off pytest tests/slurm
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest

from infrastructure import LOOPBACK_SSH, require

# read at import time: the autouse home fixture clears CLUSTRIX_* variables per test
ACCOUNTING = os.environ.get("CLUSTRIX_SLURM_ACCOUNTING", "").lower()


def accounting_enabled() -> bool:
    done = subprocess.run(["sacct", "-n", "-X", "-S", "now-1minutes"], capture_output=True, text=True)
    return "accounting storage is disabled" not in done.stdout + done.stderr


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "accounting_independent: reads results from files only, never a finished job's state: "
        "not run again in the accounting-off pass (nox -s tests)",
    )


@pytest.fixture
def slurm() -> None:
    """A running Slurm, in the accounting mode CLUSTRIX_SLURM_ACCOUNTING asks for (if set)."""
    require("slurm")
    if ACCOUNTING == "on":
        require("slurmdbd")
    elif ACCOUNTING == "off":
        assert not accounting_enabled(), (
            "CLUSTRIX_SLURM_ACCOUNTING=off but sacct answers: run up.sh with WITH_SLURMDBD=0"
        )


@pytest.fixture
def local_slurm(slurm: None) -> dict[str, Any]:
    """@cluster keywords for Slurm on this host (LocalTransport: jobs run as this user)."""
    return {"cluster_type": "slurm", "memory": "256MB"}


@pytest.fixture
def ssh_slurm(slurm: None) -> dict[str, Any]:
    """@cluster keywords for Slurm reached through SSH to 127.0.0.1 (jobs run as the test user)."""
    require("ssh")
    return {
        "cluster_type": "slurm",
        "memory": "256MB",
        **LOOPBACK_SSH,
    }
