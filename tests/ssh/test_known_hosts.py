"""known_hosts as OpenSSH reads it, against the real sshds (plain one and the CA-certified site)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from clustrix.errors import HostKeyError
from clustrix.ssh_transport import SSHTransport, resolve_endpoint
from infrastructure import SSH_DIR, SSH_PORT

NAME = f"[127.0.0.1]:{SSH_PORT}"


def server_key() -> str:
    """'ssh-ed25519 AAAA...' of the plain test sshd."""
    return " ".join((SSH_DIR / "ssh_host_ed25519_key.pub").read_text().split()[:2])


def other_key(tmp_path: Path, name: str = "other") -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / name)], check=True)
    return " ".join((tmp_path / f"{name}.pub").read_text().split()[:2])


def echo_through(options: dict[str, Any]) -> str:
    transport = SSHTransport.for_settings(options)
    try:
        return transport.run(["echo", "reached"]).check().stdout.strip()
    finally:
        transport.close()


def test_hashed_known_hosts_entry_is_accepted(ssh_options: dict[str, Any], tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"{NAME} {server_key()}\n")
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known)], check=True, capture_output=True)
    assert known.read_text().startswith("|1|"), "the entry must really be hashed"
    assert echo_through({**ssh_options, "known_hosts": str(known)}) == "reached"


def test_global_known_hosts_file_is_read(ssh_options: dict[str, Any], tmp_path: Path) -> None:
    empty, system = tmp_path / "known_hosts", tmp_path / "ssh_known_hosts"
    empty.write_text("")
    system.write_text(f"{NAME} {server_key()}\n")
    config = tmp_path / "ssh_config"
    config.write_text(f"Host *\n  GlobalKnownHostsFile {system}\n")
    assert echo_through({**ssh_options, "known_hosts": str(empty), "ssh_config": str(config)}) == "reached"


def test_global_known_hosts_default_is_openssh_system_file() -> None:
    endpoint = resolve_endpoint({"cluster_host": "login.example.org", "ssh_config": "/nonexistent"})
    assert endpoint.global_known_hosts[0] == "/etc/ssh/ssh_known_hosts"


def test_revoked_host_key_is_refused_even_when_listed(ssh_options: dict[str, Any], tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"{NAME} {server_key()}\n@revoked * {server_key()}\n")
    for policy in ("strict", "accept-new"):
        with pytest.raises(HostKeyError, match="is revoked"):
            echo_through({**ssh_options, "known_hosts": str(known), "host_key_policy": policy})
    assert known.read_text().count("\n") == 2, "a revoked key is never recorded"


def test_cert_authority_line_for_other_hosts_does_not_break_connections(
    ssh_options: dict[str, Any], tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"@cert-authority *.example.org {other_key(tmp_path)}\n{NAME} {server_key()}\n")
    assert echo_through({**ssh_options, "known_hosts": str(known)}) == "reached"


def test_changed_key_is_refused_next_to_hashed_and_marker_lines(ssh_options: dict[str, Any], tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"@revoked *.example.org {other_key(tmp_path)}\n{NAME} {other_key(tmp_path, 'reinstalled')}\n")
    with pytest.raises(HostKeyError, match="does not match"):
        echo_through({**ssh_options, "known_hosts": str(known), "host_key_policy": "accept-new"})


def test_host_certified_by_a_trusted_ca_is_refused_with_what_to_do(cert_site: dict[str, Any]) -> None:
    with pytest.raises(HostKeyError) as info:
        echo_through(cert_site)
    message = str(info.value)
    assert "host certificate authority" in message and "cannot verify host certificates" in message
    assert 'ssh_client = "openssh"' in message, "the message points to the client that can verify them"
    assert "ssh-keyscan -p 2223 127.0.0.1" in message
    assert "cert_known_hosts:1" in message, "the message names the known_hosts line that trusts the CA"
