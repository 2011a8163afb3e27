"""One set of transport tests for both SSH clients (ssh_client = "paramiko" and "openssh"),
against the real sshds, plus what only the OpenSSH client can do: host certificates and one
login shared by every process (the MFA prompt count)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stall_server import StallingServer

from clustrix import cluster
from clustrix.errors import HostKeyError, TransportError
from clustrix.openssh_transport import OpenSSHTransport
from clustrix.ssh_transport import transport_for
from clustrix.transport import Transport

CLIENTS = ["paramiko", "openssh"]


@pytest.fixture(params=CLIENTS)
def client(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def transport(ssh_options: dict[str, Any], client: str) -> Iterator[Transport]:
    transport = transport_for({**ssh_options, "ssh_client": client})
    yield transport
    transport.close()


def test_transport_is_the_one_ssh_client_names(transport: Transport, client: str) -> None:
    assert type(transport).__name__ == {"paramiko": "SSHTransport", "openssh": "OpenSSHTransport"}[client]


def test_command_output_exit_code_input_and_env(transport: Transport) -> None:
    done = transport.run(["sh", "-c", 'cat; echo "$GREETING" >&2; exit 3'], input="in\n", env={"GREETING": "a b'c"})
    assert (done.returncode, done.stdout, done.stderr) == (3, "in\n", "a b'c\n")
    assert transport.run(["printf", "%s|", "two words", "$HOME", ";"]).check().stdout == "two words|$HOME|;|"


def test_files_round_trip_with_mode_and_missing_ones(transport: Transport, tmp_path: Path) -> None:
    remote = f"{transport.home()}/.clustrix-contract-{tmp_path.name}"
    transport.mkdirs([f"{remote}/a/b"])
    try:
        payload = tmp_path / "payload"
        payload.write_bytes(bytes(range(256)) * 4096)
        transport.put(payload, f"{remote}/a/b/file", mode=0o640)
        modes = transport.run(["stat", "-c", "%a", remote, f"{remote}/a/b/file"]).check().stdout.split()
        assert modes == ["700", "640"]
        assert transport.get(f"{remote}/a/b/file", tmp_path / "back") and (tmp_path / "back").read_bytes() == (
            payload.read_bytes()
        )
        assert transport.get(f"{remote}/nothing", tmp_path / "none") is False and not (tmp_path / "none").exists()
        assert transport.missing([f"{remote}/a/b/file", f"{remote}/nothing"]) == {f"{remote}/nothing"}
        assert transport.listdirs([f"{remote}/a/b", f"{remote}/nothing"]) == {
            f"{remote}/a/b": {"file"},
            f"{remote}/nothing": set(),
        }
        assert transport.read_text(f"{remote}/a/b/file", tail_bytes=3) is not None
    finally:
        transport.remove_tree(remote)


def test_unknown_host_key_is_refused(ssh_options: dict[str, Any], client: str, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    transport = transport_for({**ssh_options, "known_hosts": str(empty), "ssh_client": client})
    with pytest.raises(HostKeyError):
        transport.run(["true"])
    assert empty.read_text() == ""


def test_function_round_trip(ssh_options: dict[str, Any], client: str) -> None:
    @cluster(**ssh_options, ssh_client=client)
    def power(x: int, y: int) -> int:
        return x**y

    assert [f.result(timeout=120) for f in power.map([2, 3], [10, 2])] == [1024, 9]


def test_stalled_exec_reply_raises_instead_of_hanging(client: str, tmp_path: Path) -> None:
    server = StallingServer(tmp_path)
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    options = {
        "cluster_host": "127.0.0.1",
        "port": server.port,
        "username": "anyone",
        "key_file": str(key),
        "known_hosts": str(server.known_hosts),
        "ssh_config": str(tmp_path / "no-ssh-config"),
        "ssh_timeout": 1.0,
        "ssh_client": client,
    }
    try:
        with pytest.raises(TransportError):
            transport_for(options).run(["true"], timeout=60)
    finally:
        server.close()


# --- what only the OpenSSH client does ---------------------------------------------------


def test_openssh_accepts_a_host_certified_by_a_trusted_ca(cert_site: dict[str, Any]) -> None:
    transport = transport_for({**cert_site, "ssh_client": "openssh"})
    assert transport.run(["echo", "certified"]).check().stdout == "certified\n"


def prompts_in(options: dict[str, Any]) -> list[str]:
    return Path(shlex.split(options["mfa_command"])[1]).read_text().splitlines()


def test_openssh_one_login_serves_100_submissions_polls_and_three_cli_processes(
    mfa_site: dict[str, Any], tmp_path: Path
) -> None:
    options = {**mfa_site, "ssh_client": "openssh"}
    transport = transport_for(options)
    assert isinstance(transport, OpenSSHTransport)
    transport.stop_master()  # start from no login at all
    try:

        @cluster(**options)
        def triple(x: int) -> int:
            return 3 * x

        futures = [triple.submit(i) for i in range(100)]
        assert [f.result(timeout=600) for f in futures] == [3 * i for i in range(100)]
        assert futures[0].target.watcher.cycles > 1
        sets = [f"--set={key}={value}" for key, value in options.items()]
        for _ in range(3):
            done = subprocess.run(
                [sys.executable, "-m", "clustrix", "doctor", *sets], capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, done.stdout + done.stderr
        prompts = prompts_in(options)
        assert len(prompts) == 1, prompts
        assert "One-time password" in prompts[0]
    finally:
        transport.stop_master()


def test_openssh_without_mfa_command_or_terminal_says_what_to_do(mfa_site: dict[str, Any]) -> None:
    options = {k: v for k, v in mfa_site.items() if k != "mfa_command"}
    transport = transport_for({**options, "ssh_client": "openssh"})
    assert isinstance(transport, OpenSSHTransport)
    transport.stop_master()
    with pytest.raises(TransportError, match="set mfa_command"):
        transport.run(["true"])
