"""Real Grid Engine fixtures: the infrastructure check and the backend options.

Bring SGE up with `sudo bash tests/infra/up.sh sge` (qmaster + execd on loopback, queue all.q, PE smp).
"""

from __future__ import annotations

from typing import Any

import pytest

from infrastructure import LOOPBACK_SSH, require


@pytest.fixture
def local_sge() -> dict[str, Any]:
    """@cluster keywords for Grid Engine on this host (LocalTransport: jobs run as this user)."""
    require("sge")
    return {"cluster_type": "sge"}


@pytest.fixture
def ssh_sge() -> dict[str, Any]:
    """@cluster keywords for Grid Engine reached through SSH to 127.0.0.1 (jobs run as the test user)."""
    require("sge")
    require("ssh")
    return {
        "cluster_type": "sge",
        **LOOPBACK_SSH,
    }
