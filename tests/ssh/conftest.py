"""Fixtures for the SSH tests: the @cluster keywords that reach the test sshd and the site-like ones."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from infrastructure import LOOPBACK_SSH, SITES_DIR, SSH_CERT_PORT, SSH_MFA_PORT, require


@pytest.fixture
def ssh_options() -> dict[str, Any]:
    """Keywords for the loopback sshd of tests/infra/ssh.sh (skips, or fails in CI, when it is down)."""
    require("ssh")
    return {
        "cluster_type": "ssh",
        **LOOPBACK_SSH,
    }


MFA_CODE = Path(__file__).with_name("mfa_code.sh")


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
