"""Fixtures for the SSH tests: the @cluster keywords that reach the test sshd."""

from __future__ import annotations

from typing import Any

import pytest

from infrastructure import LOOPBACK_SSH, require


@pytest.fixture
def ssh_options() -> dict[str, Any]:
    """Keywords for the loopback sshd of tests/infra/ssh.sh (skips, or fails in CI, when it is down)."""
    require("ssh")
    return {
        "cluster_type": "ssh",
        **LOOPBACK_SSH,
    }
