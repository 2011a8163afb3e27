"""Real Grid Engine scenarios: h_rt timeout, a job killed by qdel, the Eqw error state, SGE_ROOT/SGE_CELL."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from clustrix import cluster
from clustrix.errors import JobCancelled, JobFailed, JobTimeout, SubmissionRejected
from clustrix.job import State
from clustrix.testing import wait_for_output, wait_for_state

TIMEOUT = 120


def test_h_rt_exceeded_raises_job_timeout(local_sge: dict[str, Any]) -> None:
    @cluster(**local_sge, time="3s")
    def sleepy() -> str:
        import time

        time.sleep(120)
        return "too late"

    with pytest.raises(JobTimeout) as info:
        sleepy.submit().result(timeout=TIMEOUT)
    assert info.value.state == State.TIMEOUT.value
    assert "h_rt" in str(info.value)  # qacct's failure text reaches the user


def test_job_killed_by_qdel_raises_job_cancelled_with_stderr_tail(local_sge: dict[str, Any]) -> None:
    @cluster(**local_sge)
    def chatty() -> None:
        import sys
        import time

        print("about to wait", file=sys.stderr, flush=True)
        time.sleep(300)

    future = chatty.submit()
    wait_for_state(future, lambda s: s == State.RUNNING, TIMEOUT)
    wait_for_output(future, "about to wait", TIMEOUT)
    subprocess.run(["qdel", future.native_id], check=True, capture_output=True)  # not through clustrix
    with pytest.raises(JobCancelled) as info:
        future.result(timeout=TIMEOUT)
    assert "about to wait" in info.value.stderr_tail


def test_array_element_killed_by_the_scheduler_fails_alone(local_sge: dict[str, Any]) -> None:
    @cluster(**local_sge, tasks_per_job=1)
    def maybe_die(x: int) -> int:
        import os

        if x == 1:
            os.kill(os.getpid(), 9)
        return x

    futures = maybe_die.map([0, 1, 2])
    assert futures[0].result(timeout=TIMEOUT) == 0
    assert futures[2].result(timeout=TIMEOUT) == 2
    with pytest.raises(JobFailed) as info:
        futures[1].result(timeout=TIMEOUT)
    assert "137" in str(info.value)  # the runner killed by SIGKILL: exit status 128 + 9


def test_job_in_error_state_fails_with_grid_engines_error_reason(local_sge: dict[str, Any]) -> None:
    @cluster(**local_sge, extra_directives=["-o /nonexistent/dir/out.txt"])
    def never_starts() -> None:
        return None

    future = never_starts.submit()
    try:
        with pytest.raises(JobFailed, match=r"error state \(Eqw\).*can't open output file") as info:
            future.result(timeout=TIMEOUT)
        assert f"qdel {future.native_id}" in str(info.value)
    finally:
        subprocess.run(["qdel", future.native_id], capture_output=True)


def test_sge_root_and_cell_settings_reach_the_commands(local_sge: dict[str, Any], tmp_path: Path) -> None:
    @cluster(**local_sge, sge_root="/var/lib/gridengine", sge_cell="default")
    def add(a: int, b: int) -> int:
        return a + b

    assert add(2, 3) == 5

    # another work dir: command settings belong to a target (host + user + work dir), like the transport
    @cluster(**local_sge, sge_root="/var/lib/gridengine", sge_cell="no-such-cell", remote_work_dir=str(tmp_path))
    def unreachable() -> None:
        return None

    with pytest.raises(SubmissionRejected, match="no-such-cell"):
        unreachable.submit()
