"""The SSH setup guide's site sections (bastion, MFA, host certificates) run as written.

The bastion ssh config and the MFA ``clustrix.toml`` are the files the page includes,
with their example hosts pointed at the loopback sshds (tests/infra/ssh.sh and
ssh_sites.sh); the host-certificate message is the one the page shows.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, SSH_KEYS, check_golden

from clustrix import cluster
from clustrix.errors import HostKeyError
from clustrix.openssh_transport import OpenSSHTransport
from clustrix.ssh_transport import SSHTransport
from infrastructure import SITES_DIR, SSH_CERT_PORT, SSH_DIR, SSH_MFA_PORT, SSH_PORT, SSH_USER, require

MFA_CODE = Path(__file__).resolve().parents[1] / "ssh" / "mfa_code.sh"


def bastion_config_at_loopback(tmp_path: Path) -> Path:
    """docs/examples/ssh/bastion_config with both hosts at the loopback sshd."""
    config = tmp_path / "ssh_config"
    loopback = (
        f"HostName 127.0.0.1\n    Port {SSH_PORT}\n    IdentityFile {SSH_DIR / 'id_ed25519'}\n"
        f"    UserKnownHostsFile {SSH_DIR / 'known_hosts'}\n    StrictHostKeyChecking yes\n    BatchMode yes"
    )
    text = (EXAMPLES / "ssh" / "bastion_config").read_text()
    text = re.sub(r"HostName \S+", loopback, text).replace("User alice", f"User {SSH_USER}")
    config.write_text(text.replace("ssh -W", f"ssh -F {shlex.quote(str(config))} -W"))
    return config


@pytest.mark.parametrize(
    ("alias", "route"),
    [
        ("hpc-login", "through ProxyJump"),
        ("hpc-login-via-command", "through ProxyCommand `ssh -F"),
    ],
)
def test_bastion_config_reaches_the_login_node_through_the_bastion(alias: str, route: str, tmp_path: Path) -> None:
    require("ssh")
    config = bastion_config_at_loopback(tmp_path)
    options = {"cluster_host": alias, "ssh_config": str(config), "known_hosts": str(SSH_DIR / "known_hosts")}
    transport = SSHTransport.for_settings(options)
    try:
        assert transport.run(["echo", "behind the bastion"]).check().stdout == "behind the bastion\n"
        assert transport.endpoint.route().startswith(route)
    finally:
        transport.close()


def test_mfa_config_logs_in_once_with_its_mfa_command(tmp_path: Path) -> None:
    require("ssh_sites")
    shown = tomllib.loads((EXAMPLES / "config" / "ssh-mfa.toml").read_text())
    assert shown["mfa_command"] and shown["ssh_timeout"] == 60
    prompts = tmp_path / "prompts"
    options: dict[str, Any] = {
        **shown,
        **SSH_KEYS,
        "cluster_host": "127.0.0.1",
        "port": SSH_MFA_PORT,
        "known_hosts": str(SITES_DIR / "mfa_known_hosts"),
        "mfa_command": f"{shlex.quote(str(MFA_CODE))} {shlex.quote(str(prompts))}",
    }

    @cluster(**options)
    def add(a: int, b: int) -> int:
        return a + b

    assert [f.result(timeout=300) for f in [add.submit(i, i) for i in range(5)]] == [0, 2, 4, 6, 8]
    assert len(prompts.read_text().splitlines()) == 1


def test_host_certificate_message_is_the_one_the_guide_shows() -> None:
    require("ssh_sites")
    known = SITES_DIR / "cert_known_hosts"
    options = {**SSH_KEYS, "cluster_host": "127.0.0.1", "port": SSH_CERT_PORT, "known_hosts": str(known)}
    transport = SSHTransport.for_settings(options)
    with pytest.raises(HostKeyError) as info:
        transport.run(["true"])
    text = f"{type(info.value).__name__}: {info.value}\n".replace(str(known), "~/.ssh/known_hosts")
    text = re.sub(r"SHA256:[A-Za-z0-9+/]{43}", "SHA256:3mBqX2bDk0GZ1yW4jVQ0PZ8m9n1aQdE7cYtR5uLhS0k", text)
    check_golden("errors/ssh-host-certificate.txt", text)


def test_openssh_config_shares_one_login_and_verifies_host_certificates(tmp_path: Path) -> None:
    require("ssh_sites")
    shown = tomllib.loads((EXAMPLES / "config" / "ssh-openssh.toml").read_text())
    assert shown["ssh_client"] == "openssh"
    prompts = tmp_path / "prompts"
    code = f"{shlex.quote(str(MFA_CODE))} {shlex.quote(str(prompts))}"
    base = {**shown, **SSH_KEYS, "cluster_type": "ssh", "cluster_host": "127.0.0.1", "mfa_command": code}
    mfa = {**base, "port": SSH_MFA_PORT, "known_hosts": str(SITES_DIR / "mfa_known_hosts")}
    certified = {**base, "port": SSH_CERT_PORT, "known_hosts": str(SITES_DIR / "cert_known_hosts")}
    transport = OpenSSHTransport.for_settings(mfa)
    transport.stop_master()
    try:
        for _ in range(3):  # three processes' worth of commands: one login
            assert OpenSSHTransport(transport.destination).run(["true"]).returncode == 0
        assert len(prompts.read_text().splitlines()) == 1
        assert OpenSSHTransport.for_settings(certified).run(["echo", "certified"]).check().stdout == "certified\n"
    finally:
        transport.stop_master()
