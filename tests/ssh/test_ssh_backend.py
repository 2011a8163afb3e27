"""The ssh backend on the real sshd: hostile values, payload dedup, logs, limits, sshd restarts."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from clustrix import cluster
from clustrix.errors import JobFailed, JobTimeout
from clustrix.job import State
from clustrix.ssh_transport import SSHTransport
from clustrix.testing import wait_for_state
from infrastructure import SSH_DIR, SSH_PORT

HOSTILE = "$(touch {m}) `touch {m}` '\"; touch {m}; echo \nnext line & touch {m} | \\"


def test_hostile_name_env_and_path_execute_nothing(ssh_options: dict[str, Any]) -> None:
    marker = f"/tmp/pwned-{uuid.uuid4().hex}"
    hostile = HOSTILE.format(m=marker)
    one_line = hostile.replace("\n", " ")  # a newline in a name or a path is refused at configuration

    @cluster(
        **ssh_options,
        job_name=one_line,
        env={"HOSTILE": hostile},
        remote_work_dir=f"~/.clustrix-hostile/{one_line}",
    )
    def echo_back(value: str) -> tuple[str, str, str]:
        import os

        return value, os.environ["HOSTILE"], os.environ["CLUSTRIX_JOB_NAME"]

    future = echo_back.submit(hostile)
    assert future.result(timeout=120) == (hostile, hostile, one_line)
    transport = future.target.transport
    assert future.job.remote_dir.startswith(f"{transport.home()}/.clustrix-hostile/$(touch")
    assert transport.run(["test", "-e", marker]).returncode == 1, "a hostile value was executed remotely"
    assert not os.path.exists(marker)
    transport.remove_tree(f"{transport.home()}/.clustrix-hostile")


def test_invalid_env_name_is_rejected_before_anything_runs(ssh_options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not a valid environment variable name"):

        @cluster(**ssh_options, env={"A; touch /tmp/x": "1"})
        def noop() -> None:
            return None


def test_same_200mb_argument_is_sent_once(ssh_options: dict[str, Any]) -> None:
    payload = os.urandom(200 * 1024 * 1024)

    @cluster(**ssh_options)
    def size(data: bytes) -> int:
        return len(data)

    transport = SSHTransport.for_settings(ssh_options)  # the connection every job to this host uses
    sent_before = transport.bytes_sent
    first = size.submit(payload)
    assert first.target.transport is transport
    assert first.result(timeout=300) == len(payload)
    first_bytes = transport.bytes_sent - sent_before
    sent_before = transport.bytes_sent
    assert size.submit(payload).result(timeout=300) == len(payload)
    second_bytes = transport.bytes_sent - sent_before
    assert first_bytes > len(payload)
    assert second_bytes < 64 * 1024, f"the second submission uploaded {second_bytes} bytes"


def test_env_and_setup_lines_reach_the_job(ssh_options: dict[str, Any]) -> None:
    @cluster(**ssh_options, env={"GREETING": "hello world"}, setup=["export FROM_SETUP=yes", "cd /"])
    def read_env() -> tuple[str, str]:
        import os

        return os.environ["GREETING"], os.environ["FROM_SETUP"]

    assert read_env() == ("hello world", "yes")


def test_logs_are_readable_while_the_job_runs(ssh_options: dict[str, Any]) -> None:
    @cluster(**ssh_options)
    def chatty() -> None:
        import time

        print("started the long part")
        time.sleep(300)

    future = chatty.submit()
    wait_for_state(future, lambda s: s == State.RUNNING, 60)
    log = f"{future.job.remote_dir}/logs/0.out"
    deadline = time.monotonic() + 30
    while "started the long part" not in (future.target.transport.read_text(log) or ""):
        assert time.monotonic() < deadline, "the job's stdout never showed up while it ran"
        time.sleep(0.2)
    assert future.cancel()


def test_time_limit_raises_job_timeout(ssh_options: dict[str, Any]) -> None:
    @cluster(**ssh_options, time="2s")
    def too_slow() -> None:
        import time

        time.sleep(300)

    with pytest.raises(JobTimeout):
        too_slow.submit().result(timeout=60)


def test_killed_process_raises_job_failed_with_stderr_tail(ssh_options: dict[str, Any]) -> None:
    @cluster(**ssh_options)
    def crash() -> None:
        import os
        import sys

        print("segfault-like crash in native code", file=sys.stderr, flush=True)
        os._exit(3)

    with pytest.raises(JobFailed) as info:
        crash.submit().result(timeout=60)
    assert "segfault-like crash in native code" in str(info.value)
    assert info.value.state == State.FAILED.value


def _socket_holders(client_port: int) -> set[int]:
    """Pids of the sshd processes serving the TCP connection from our ``client_port``."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, remote_port = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)
        if local_port == SSH_PORT and remote_port == client_port:
            inodes.add(f"socket:[{fields[9]}]")
    holders = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if int(pid) != os.getpid() and any(
                os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in os.listdir(f"/proc/{pid}/fd")
            ):
                holders.add(int(pid))
        except OSError:
            continue
    return holders


def test_result_arrives_after_sshd_is_killed_and_restarted(ssh_options: dict[str, Any]) -> None:
    if os.geteuid() != 0:
        message = "restarting the test sshd needs root (as tests/infra/ssh.sh)"
        pytest.fail(message) if os.environ.get("CI", "").lower() == "true" else pytest.skip(message)

    @cluster(**ssh_options)
    def slow_square(x: int) -> int:
        import time

        time.sleep(4)
        return x * x

    future = slow_square.submit(12)
    transport = future.target.transport
    wait_for_state(future, lambda s: s == State.RUNNING, 60)
    # kill the listener and the sessions of our connection (other clients' sessions live on)
    ours = _socket_holders(transport.connection().sock.getsockname()[1])
    assert ours, "no sshd process found for our connection"
    for pid in [int((SSH_DIR / "sshd.pid").read_text()), *ours]:
        os.kill(pid, signal.SIGKILL)
    time.sleep(1.5)
    sshd = ["/usr/sbin/sshd", "-f", str(SSH_DIR / "sshd_config"), "-E", str(SSH_DIR / "sshd.log")]
    subprocess.run(sshd, check=True)
    assert future.result(timeout=120) == 144
    assert transport.connects >= 2, "the connection should have been re-opened"


def test_failing_setup_line_is_reported_from_the_job_log(ssh_options: dict[str, Any]) -> None:
    @cluster(**ssh_options, setup=["echo 'module: unable to locate a modulefile for gcc/99' >&2", "exit 3"])
    def never_runs() -> None:
        return None

    with pytest.raises(JobFailed, match="unable to locate a modulefile for gcc/99"):
        never_runs.submit().result(timeout=60)
