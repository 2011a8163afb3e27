"""Real PBS fixtures: the Torque-style qsub/qstat/qdel wrappers over Slurm, configured by path.

Bring them up with `sudo bash tests/infra/up.sh slurm torque`. Their commands live in
PBS_BIN (default /opt/slurm-torque/bin), not on PATH: /usr/bin/qsub belongs to Grid Engine.
"""

from __future__ import annotations

from typing import Any

import pytest

from infrastructure import LOOPBACK_SSH, PBS_BIN, require

WRAPPERS = {name: str(PBS_BIN / name) for name in ("qsub", "qstat", "qdel")}


@pytest.fixture
def local_pbs() -> dict[str, Any]:
    """@cluster keywords for the Torque dialect on this host (LocalTransport)."""
    require("torque")
    return {"cluster_type": "pbs", "pbs_flavor": "torque", "memory": "256MB", **WRAPPERS}


@pytest.fixture
def ssh_pbs() -> dict[str, Any]:
    """The same through SSH to 127.0.0.1 (jobs run as the test user)."""
    require("torque")
    require("ssh")
    return {
        "cluster_type": "pbs",
        "pbs_flavor": "torque",
        "memory": "256MB",
        **WRAPPERS,
        **LOOPBACK_SSH,
    }
