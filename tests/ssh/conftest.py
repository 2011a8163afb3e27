"""Fixtures for the SSH tests: the @cluster keywords that reach the test sshd and the site-like ones."""

from __future__ import annotations

import os
import shlex
import socket
from pathlib import Path
from typing import Any

import pytest

from infrastructure import CHECKS, LOOPBACK_SSH, require


@pytest.fixture
def ssh_options() -> dict[str, Any]:
    """Keywords for the loopback sshd of tests/infra/ssh.sh (skips, or fails in CI, when it is down)."""
    require("ssh")
    return {
        "cluster_type": "ssh",
        **LOOPBACK_SSH,
    }


SITES_DIR = Path(os.environ.get("SITES_DIR", "/tmp/clustrix-infra/ssh_sites"))
SSH_CERT_PORT = int(os.environ.get("SSH_CERT_PORT", "2223"))
SSH_MFA_PORT = int(os.environ.get("SSH_MFA_PORT", "2224"))
MFA_CODE = Path(__file__).with_name("mfa_code.sh")


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


#: the extra sshd instances of tests/infra/ssh_sites.sh, checked like every other component
CHECKS["ssh_sites"] = lambda: all(
    [(SITES_DIR / "mfa_known_hosts").exists(), _port_open(SSH_CERT_PORT), _port_open(SSH_MFA_PORT)]
)


@pytest.fixture
def cert_site(ssh_options: dict[str, Any]) -> dict[str, Any]:
    """Keywords for the sshd whose host key is certified by the test host CA (no plain key known)."""
    require("ssh_sites")
    return {**ssh_options, "port": SSH_CERT_PORT, "known_hosts": str(SITES_DIR / "cert_known_hosts")}


@pytest.fixture
def mfa_site(ssh_options: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """Keywords for the sshd that wants the key and then a one-time code; every prompt the
    code command answers is appended to ``mfa_prompts`` (a file in the test's tmp dir)."""
    require("ssh_sites")
    log = tmp_path / "mfa_prompts"
    log.touch()
    return {
        **ssh_options,
        "port": SSH_MFA_PORT,
        "known_hosts": str(SITES_DIR / "mfa_known_hosts"),
        "mfa_command": f"{shlex.quote(str(MFA_CODE))} {shlex.quote(str(log))}",
    }
