"""Finding the real test infrastructure (sshd, Slurm, Torque wrappers, SGE).

``require("slurm")`` returns when the component answers; otherwise the test skips
with the command that brings it up, or, with ``CI=true``, fails: in CI an
integration test never skips.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

SSH_DIR = Path(os.environ.get("SSH_DIR", "/tmp/clustrix-infra/ssh"))
SSH_PORT = int(os.environ.get("SSH_PORT", "2222"))
SSH_USER = os.environ.get("SSH_USER", "clustrix")
PBS_BIN = Path(os.environ.get("PBS_BIN", "/opt/slurm-torque/bin"))
#: the site-like sshds of tests/infra/ssh_sites.sh (host certificate, MFA)
SITES_DIR = Path(os.environ.get("SITES_DIR", "/tmp/clustrix-infra/ssh_sites"))
SSH_CERT_PORT = int(os.environ.get("SSH_CERT_PORT", "2223"))
SSH_MFA_PORT = int(os.environ.get("SSH_MFA_PORT", "2224"))

#: @cluster keywords that reach the loopback sshd as the test user (ignoring ~/.ssh/config)
LOOPBACK_SSH = {
    "cluster_host": "127.0.0.1",
    "port": SSH_PORT,
    "username": SSH_USER,
    "key_file": str(SSH_DIR / "id_ed25519"),
    "known_hosts": str(SSH_DIR / "known_hosts"),
    "ssh_config": str(SSH_DIR / "no-ssh-config"),
}


def _answers(argv: list[str]) -> bool:
    if shutil.which(argv[0]) is None and not Path(argv[0]).exists():
        return False
    try:
        return subprocess.run(argv, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def _ssh_up() -> bool:
    return (SSH_DIR / "id_ed25519").exists() and _port_open(SSH_PORT)


def _ssh_sites_up() -> bool:
    return (SITES_DIR / "mfa_known_hosts").exists() and _port_open(SSH_CERT_PORT) and _port_open(SSH_MFA_PORT)


CHECKS = {
    "ssh": _ssh_up,
    "ssh_sites": _ssh_sites_up,
    "slurm": lambda: _answers(["sinfo", "-h", "-t", "idle,mix,alloc"]) and _answers(["scontrol", "ping"]),
    "slurmdbd": lambda: _answers(["sacct", "-n", "-X", "-S", "now-1minutes"]),
    "torque": lambda: _answers([str(PBS_BIN / "qstat"), "-Q"]),
    "sge": lambda: _answers(["qstat", "-g", "c"]),
}


def available(component: str) -> bool:
    return CHECKS[component]()


def require(component: str) -> None:
    if available(component):
        return
    how = f"bring it up with `sudo bash tests/infra/up.sh {component}` (as root), then rerun"
    message = f"{component} is not running: {how}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)
