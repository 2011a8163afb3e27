"""Real scenarios on the Torque-style wrappers: a job killed by qdel, a killed runner, arrays finishing out of order."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from clustrix import cluster
from clustrix.errors import JobCancelled, JobFailed
from clustrix.job import State
from clustrix.testing import wait_for_output, wait_for_state
from infrastructure import PBS_BIN

TIMEOUT = 120


def test_job_killed_by_qdel_raises_job_cancelled_with_stderr_tail(local_pbs: dict[str, Any]) -> None:
    @cluster(**local_pbs)
    def chatty() -> None:
        import sys
        import time

        print("about to wait", file=sys.stderr, flush=True)
        time.sleep(300)

    future = chatty.submit()
    wait_for_state(future, lambda s: s == State.RUNNING, TIMEOUT)
    wait_for_output(future, "about to wait", TIMEOUT)
    subprocess.run([str(PBS_BIN / "qdel"), future.native_id], check=True, capture_output=True)  # not through clustrix
    with pytest.raises(JobCancelled) as info:
        future.result(timeout=TIMEOUT)
    assert "about to wait" in info.value.stderr_tail


def test_runner_killed_by_a_signal_raises_job_failed(local_pbs: dict[str, Any]) -> None:
    @cluster(**local_pbs)
    def die() -> None:
        import os
        import sys

        print("going down", file=sys.stderr, flush=True)
        os.kill(os.getpid(), 9)

    with pytest.raises(JobFailed) as info:
        die.submit().result(timeout=TIMEOUT)
    assert type(info.value) is JobFailed
    assert "going down" in info.value.stderr_tail


def test_array_tasks_outliving_the_arrays_own_record_still_return(local_pbs: dict[str, Any]) -> None:
    # The wrappers show an array as one record (that of its last task to start); task 0 starts
    # first and runs longest, so that record ends while task 0 still runs.
    @cluster(**local_pbs, tasks_per_job=1)
    def slow_first(x: int) -> int:
        import time

        time.sleep(6 if x == 0 else 0.1)
        return x

    futures = slow_first.map(range(3))
    assert [f.result(timeout=TIMEOUT) for f in futures] == [0, 1, 2]
