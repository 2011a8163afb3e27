"""SSHTransport against the real sshd: host keys, ssh config, agent, one shared connection."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from clustrix import cluster
from clustrix.errors import HostKeyError, TransportError
from clustrix.ssh_transport import SSHTransport, resolve_endpoint
from infrastructure import SSH_DIR, SSH_PORT, SSH_USER


def test_unknown_host_key_is_refused_with_how_to_add_it(ssh_options: dict[str, Any], tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")

    @cluster(**{**ssh_options, "known_hosts": str(empty)})
    def where() -> str:
        return "ran"

    with pytest.raises(HostKeyError) as info:
        where()
    message = str(info.value)
    assert "ssh-keyscan -p 2222 127.0.0.1" in message and "accept-new" in message
    assert empty.read_text() == "", "strict mode must not record the key"


def test_accept_new_records_the_host_key_and_runs(ssh_options: dict[str, Any], tmp_path: Path) -> None:
    known = tmp_path / "ssh" / "known_hosts"

    @cluster(**{**ssh_options, "known_hosts": str(known), "host_key_policy": "accept-new"})
    def where() -> str:
        return "ran"

    assert where() == "ran"
    server_key = (SSH_DIR / "ssh_host_ed25519_key.pub").read_text().split()[1]
    assert known.read_text().split() == [f"[127.0.0.1]:{SSH_PORT}", "ssh-ed25519", server_key]
    strict = SSHTransport.for_settings({**ssh_options, "known_hosts": str(known)})
    try:
        assert strict.run(["echo", "trusted"]).check().stdout == "trusted\n"
    finally:
        strict.close()


def test_changed_host_key_is_refused_even_with_accept_new(ssh_options: dict[str, Any], tmp_path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = (tmp_path / "other.pub").read_text().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{SSH_PORT} {other[0]} {other[1]}\n")
    transport = SSHTransport.for_settings({**ssh_options, "known_hosts": str(known), "host_key_policy": "accept-new"})
    with pytest.raises(HostKeyError, match="does not match"):
        transport.run(["true"])


def test_ssh_config_alias_and_proxyjump_are_honoured(ssh_options: dict[str, Any], tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    entry = f"  HostName 127.0.0.1\n  Port {SSH_PORT}\n  User {SSH_USER}\n  IdentityFile {SSH_DIR / 'id_ed25519'}\n"
    config.write_text(f"Host login-node\n{entry}  ProxyJump bastion\n\nHost bastion\n{entry}")
    options = {k: v for k, v in ssh_options.items() if k not in ("port", "username", "key_file")}

    @cluster(**{**options, "cluster_host": "login-node", "ssh_config": str(config)})
    def whoami() -> str:
        import getpass

        return getpass.getuser()

    assert whoami() == SSH_USER
    transport = whoami.submit().target.transport
    assert transport.endpoint.proxy_jump == "bastion"
    assert transport._jump is not None and transport._jump.connects == 1, "the connection went through the jump host"


def test_key_from_ssh_agent_is_used(
    ssh_options: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = subprocess.run(["ssh-agent", "-s", "-a", str(tmp_path / "agent.sock")], capture_output=True, text=True)
    pid = int(agent.stdout.split("SSH_AGENT_PID=")[1].split(";")[0])
    try:
        monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "agent.sock"))
        monkeypatch.setenv("HOME", str(tmp_path))  # no default keys in ~/.ssh: only the agent can help
        subprocess.run(["ssh-add", "-q", str(SSH_DIR / "id_ed25519")], check=True, capture_output=True)
        options = {k: v for k, v in ssh_options.items() if k != "key_file"}

        @cluster(**options)
        def answer() -> int:
            return 42

        assert answer() == 42
    finally:
        os.kill(pid, 15)


def test_jobs_and_watcher_share_one_connection(ssh_options: dict[str, Any]) -> None:
    @cluster(**ssh_options)
    def double(x: int) -> int:
        return 2 * x

    transport = SSHTransport.for_settings(ssh_options)
    transport.connection()
    connects = transport.connects
    futures = [double.submit(i) for i in range(4)] + double.map(range(3))
    assert [f.result(timeout=120) for f in futures] == [0, 2, 4, 6, 0, 2, 4]
    assert {id(f.target.transport) for f in futures} == {id(transport)}
    assert transport.connects == connects, "jobs and the watcher must reuse the open connection"


def test_remote_job_dirs_are_private(ssh_options: dict[str, Any]) -> None:
    @cluster(**ssh_options, keep_files=True)
    def noop() -> None:
        return None

    future = noop.submit()
    future.result(timeout=120)
    transport, job = future.target.transport, future.job
    dirs = [job.remote_work_dir, f"{job.remote_work_dir}/jobs", job.remote_dir, f"{job.remote_work_dir}/blobs"]
    modes = transport.run(["stat", "-c", "%a", *dirs]).check().stdout.split()
    assert modes == ["700"] * 4
    assert job.remote_work_dir == f"{transport.home()}/.clustrix", "default work dir is under the remote home"
    transport.remove_tree(job.remote_dir)


def test_many_quick_commands_at_once_keep_the_one_connection(ssh_options: dict[str, Any]) -> None:
    """A command that exits at once lets the host close its channel before our EOF is sent;
    OpenSSH dropped the whole connection for that EOF (a few times in 1,200 commands), losing
    every command in flight and prompting an MFA login again. Quick commands with and without
    input, from 8 threads on one connection: no command is lost and no reconnect happens."""
    transport = SSHTransport(resolve_endpoint(ssh_options))
    failures: list[str] = []

    def commands(thread: int) -> None:
        for i in range(150):
            try:
                if (thread + i) % 2:
                    done = transport.run(["true"])
                    expected = 0
                else:  # exits without reading its input
                    done = transport.run(["sh", "-c", "exit 3"], input="unread\n" * 100)
                    expected = 3
                if done.returncode != expected:
                    failures.append(f"exit {done.returncode}: {done.stderr}")
            except TransportError as exc:
                failures.append(repr(exc))

    threads = [threading.Thread(target=commands, args=(n,)) for n in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == [], failures[:3]
        assert transport.connects == 1
    finally:
        transport.close()
