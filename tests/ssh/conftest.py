"""Fixtures for the SSH tests: the @cluster keywords that reach the test sshd."""

from __future__ import annotations

from typing import Any

import pytest

from infrastructure import SSH_DIR, SSH_PORT, SSH_USER, require


@pytest.fixture
def ssh_options() -> dict[str, Any]:
    """Keywords for the loopback sshd of tests/infra/ssh.sh (skips, or fails in CI, when it is down)."""
    require("ssh")
    return {
        "cluster_type": "ssh",
        "cluster_host": "127.0.0.1",
        "port": SSH_PORT,
        "username": SSH_USER,
        "key_file": str(SSH_DIR / "id_ed25519"),
        "known_hosts": str(SSH_DIR / "known_hosts"),
        "ssh_config": str(SSH_DIR / "no-ssh-config"),  # ignore the user's ~/.ssh/config
    }
