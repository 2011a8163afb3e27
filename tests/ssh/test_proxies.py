"""ProxyCommand and ProxyJump from the ssh config, both honoured, and `clustrix doctor` naming the path.

The target's HostName does not resolve (``.invalid``): only a connection that really goes
through the proxy can reach it. The bastion is the loopback test sshd itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clustrix import cluster
from clustrix.doctor import Checks
from clustrix.ssh_transport import SSHTransport
from infrastructure import SSH_DIR, SSH_PORT, SSH_USER

HIDDEN = "cluster-login.invalid"  # reachable only through the bastion


def write_config(tmp_path: Path, proxy_line: str, hostname: str = HIDDEN) -> dict[str, Any]:
    """An ssh config whose 'login' host sits behind ``proxy_line``, and keywords that use it."""
    key = SSH_DIR / "id_ed25519"
    server_key = " ".join((SSH_DIR / "ssh_host_ed25519_key.pub").read_text().split()[:2])
    known = tmp_path / "known_hosts"
    known.write_text(f"[{HIDDEN}]:{SSH_PORT} {server_key}\n[127.0.0.1]:{SSH_PORT} {server_key}\n")
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host login\n  HostName {hostname}\n  Port {SSH_PORT}\n  User {SSH_USER}\n  IdentityFile {key}\n"
        f"  {proxy_line}\n\n"
        f"Host bastion1 bastion2\n  HostName 127.0.0.1\n  Port {SSH_PORT}\n  User {SSH_USER}\n  IdentityFile {key}\n"
    )
    return {
        "cluster_type": "ssh",
        "cluster_host": "login",
        "ssh_config": str(config),
        "known_hosts": str(known),
        "ssh_timeout": 10.0,
    }


def bastion_command() -> str:
    """``ssh -W`` through the bastion, forwarding to the sshd whatever %h says (it does not resolve)."""
    options = (
        f"-i {SSH_DIR / 'id_ed25519'} -o IdentitiesOnly=yes -o BatchMode=yes "
        f"-o UserKnownHostsFile={SSH_DIR / 'known_hosts'} -o StrictHostKeyChecking=yes"
    )
    return f"ProxyCommand ssh {options} -p {SSH_PORT} -W 127.0.0.1:%p {SSH_USER}@127.0.0.1"


def test_proxycommand_from_ssh_config_carries_the_connection(ssh_options: dict[str, Any], tmp_path: Path) -> None:
    options = write_config(tmp_path, bastion_command())

    @cluster(**options)
    def hello() -> str:
        return "hello from behind the bastion"

    assert hello() == "hello from behind the bastion"
    transport = SSHTransport.for_settings(options)
    assert transport.proxy_commands == transport.connects == 1


def test_proxyjump_chain_goes_through_every_hop(ssh_options: dict[str, Any], tmp_path: Path) -> None:
    options = write_config(tmp_path, "ProxyJump bastion1,bastion2", hostname="127.0.0.1")
    transport = SSHTransport.for_settings(options)
    assert transport.run(["echo", "through two hops"]).check().stdout == "through two hops\n"
    second = transport._jump
    assert second is not None and second._jump is not None, "two jump connections, one per hop"
    assert second.connects == second._jump.connects == 1


def test_doctor_reports_the_route_a_connection_really_takes(ssh_options: dict[str, Any], tmp_path: Path) -> None:
    hop = f"{SSH_USER}@127.0.0.1:{SSH_PORT}"
    for proxy_line, hostname, route in [
        (bastion_command(), HIDDEN, f"through ProxyCommand `ssh -i {SSH_DIR / 'id_ed25519'}"),
        ("ProxyJump bastion1,bastion2", "127.0.0.1", f"through ProxyJump {hop} -> {hop} -> {hop}"),
    ]:
        steps = {s.name: s for s in Checks(None, write_config(tmp_path, proxy_line, hostname)).run()}
        assert steps["host reachable"].status == "ok" and route in steps["host reachable"].detail
        assert steps["authentication"].status == "ok" and route in steps["authentication"].detail
