"""Bounded waits: a host that stops answering raises within ssh_timeout, never freezes a thread.

The stalling servers are in ``stall_server.py``. Each operation runs in a helper thread
that the test joins with a generous guard: on code without deadlines the operation never
returns and the guard fails the test (no timing is asserted).
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from stall_server import FreezingProxy, SilentListener, StallingServer

from clustrix import cluster, configure
from clustrix.errors import CommandOutcomeUnknown, ConfigError, TransportError
from clustrix.ssh_transport import SSHTransport
from infrastructure import SSH_DIR, SSH_PORT

GUARD = 90.0  # seconds a bounded operation gets before the test calls it hung


def outcome_of(operation: Callable[[], Any]) -> BaseException | Any:
    """Run ``operation`` in a thread; its exception or result, or fail if it never returns."""
    box: list[Any] = []

    def target() -> None:
        try:
            box.append(operation())
        except BaseException as exc:
            box.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(GUARD)
    assert not thread.is_alive(), "the operation is still waiting on the stalled host: no deadline"
    return box[0]


@pytest.fixture
def client_key(tmp_path: Path) -> str:
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return str(key)


def settings_for(port: int, known_hosts: Path, key: str, **extra: Any) -> dict[str, Any]:
    return {
        "cluster_host": "127.0.0.1",
        "port": port,
        "username": "anyone",
        "key_file": key,
        "known_hosts": str(known_hosts),
        "ssh_config": str(known_hosts.parent / "no-ssh-config"),
        "ssh_timeout": 1.0,
        **extra,
    }


@pytest.fixture
def stalling(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[StallingServer]:
    server = StallingServer(tmp_path, stall=getattr(request, "param", "exec"))
    yield server
    server.close()


def transport_to(server: StallingServer, key: str) -> SSHTransport:
    return SSHTransport.for_settings(settings_for(server.port, server.known_hosts, key))


def test_unanswered_exec_request_raises_a_clear_error_within_ssh_timeout(
    stalling: StallingServer, client_key: str
) -> None:
    transport = transport_to(stalling, client_key)
    error = outcome_of(lambda: transport.run(["true"], timeout=2))
    assert isinstance(error, TransportError), error
    assert "did not answer the exec request within ssh_timeout=1 s" in str(error)


def test_unanswered_submission_is_reported_as_outcome_unknown_and_never_repeated(
    stalling: StallingServer, client_key: str
) -> None:
    transport = transport_to(stalling, client_key)
    error = outcome_of(lambda: transport.run(["sbatch", "job.sh"], idempotent=False))
    assert isinstance(error, CommandOutcomeUnknown), error
    assert "may have reached the host" in str(error)
    assert stalling.requests == ["exec"], "a command with side effects must not be sent twice"


@pytest.mark.parametrize("stalling", ["subsystem", "sftp-silent"], indirect=True)
def test_stalled_sftp_raises_a_clear_error_within_ssh_timeout(
    stalling: StallingServer, client_key: str, tmp_path: Path
) -> None:
    transport = transport_to(stalling, client_key)
    (tmp_path / "payload").write_bytes(b"x")
    error = outcome_of(lambda: transport.put(tmp_path / "payload", "payload"))
    assert isinstance(error, TransportError), error
    assert "did not answer" in str(error) and "ssh_timeout=1 s" in str(error)


def test_host_that_never_sends_its_banner_fails_to_connect_within_ssh_timeout(tmp_path: Path, client_key: str) -> None:
    listener = SilentListener()
    try:
        transport = SSHTransport.for_settings(settings_for(listener.port, tmp_path / "known_hosts", client_key))
        error = outcome_of(transport.connection)
    finally:
        listener.close()
    assert isinstance(error, TransportError), error
    assert "within ssh_timeout=1 s" in str(error) and "raise ssh_timeout" in str(error)


def test_ssh_timeout_must_be_a_positive_number() -> None:
    with pytest.raises(ConfigError, match="ssh_timeout"):
        configure(ssh_timeout=0)


def wait_until(condition: Callable[[], bool], what: str, limit: float = GUARD) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)


def test_frozen_host_keeps_its_watcher_cycling_and_other_targets_served(
    ssh_options: dict[str, Any], tmp_path: Path
) -> None:
    proxy = FreezingProxy(("127.0.0.1", SSH_PORT))
    server_key = (SSH_DIR / "ssh_host_ed25519_key.pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{proxy.port} {' '.join(server_key)}\n")
    frozen_options = {
        **ssh_options,
        "port": proxy.port,
        "known_hosts": str(known),
        "ssh_timeout": 2.0,
        "max_poll_interval": 0.5,
        "keep_files": True,  # no clean-up through the proxy after it is closed
    }

    @cluster(**frozen_options)
    def on_frozen_host() -> str:
        import time

        time.sleep(1)
        return "frozen host answered"

    @cluster(**ssh_options)
    def on_other_host() -> str:
        return "other host answered"

    try:
        stalled = on_frozen_host.submit()
        proxy.freeze()
        watcher = stalled.target.watcher
        cycles = watcher.cycles
        wait_until(lambda: watcher.cycles >= cycles + 2, "the watcher of the frozen host to start new cycles")
        assert on_other_host() == "other host answered"
        proxy.thaw()
        assert stalled.result(timeout=GUARD) == "frozen host answered"
    finally:
        proxy.close()
    SSHTransport.for_settings(ssh_options).remove_tree(stalled.job.remote_dir)
