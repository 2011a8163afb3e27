"""What a user sees from @cluster on the default (local) backend."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import Future

import pytest

from clustrix import ClusterFuture, ConfigError, JobCancelled, cluster
from clustrix.job import State
from clustrix.testing import wait_for_state


@cluster(cores=2, memory="1GB", time="00:05:00")
def add(a, b):
    """Add two numbers."""
    return a + b


def test_call_returns_value_computed_in_another_process():
    @cluster
    def pid_and_sum(a, b):
        import os

        return os.getpid(), a + b

    pid, total = pid_and_sum(1, 2)
    assert total == 3
    assert pid != os.getpid()


def test_decorated_function_with_resources_runs_with_nothing_configured():
    assert add(1, 2) == 3


def test_decorator_keeps_name_doc_and_wrapped():
    assert add.__name__ == "add"
    assert add.__doc__ == "Add two numbers."
    assert add.__wrapped__(2, 2) == 4


def test_submit_returns_a_concurrent_future_with_ids():
    fut = add.submit(1, 2)
    assert isinstance(fut, ClusterFuture) and isinstance(fut, Future)
    assert fut.result(timeout=60) == 3
    assert fut.job_id.startswith("c")
    assert fut.native_id is not None and fut.native_id.isdigit()


def test_future_is_awaitable():
    async def main():
        return await add.submit(20, 22)

    assert asyncio.run(main()) == 42


def test_map_returns_futures_in_input_order():
    futs = add.map([1, 2, 3], [10, 20, 30])
    assert [f.result(timeout=60) for f in futs] == [11, 22, 33]
    assert [f.job_id for f in futs] == [f"{futs[0].job.job_id}.{i}" for i in range(3)]


def test_map_of_nothing_is_empty():
    assert add.map([], []) == []


def test_cancel_kills_the_running_job_and_result_raises_cancelled():
    @cluster
    def sleeper():
        import time

        time.sleep(120)

    fut = sleeper.submit()
    wait_for_state(fut, lambda s: s == State.RUNNING, 30)
    assert fut.cancel()
    with pytest.raises(Exception) as info:
        fut.result(timeout=5)
    assert type(info.value).__name__ == "CancelledError"
    assert wait_for_state(fut, lambda s: s.terminal, 30) == State.CANCELLED
    assert fut.target.store.call(fut.job_id)[2] == "CANCELLED"


def test_time_limit_on_local_backend_raises_job_timeout():
    @cluster(time="2s")
    def too_slow():
        import time

        time.sleep(60)

    with pytest.raises(Exception) as info:
        too_slow()
    assert type(info.value).__name__ == "JobTimeout"
    assert "time limit" in str(info.value)


def test_job_killed_from_outside_is_a_typed_failure_with_stderr_tail():
    @cluster
    def dies():
        import os
        import signal
        import sys

        print("about to die", file=sys.stderr, flush=True)
        os.killpg(os.getpgid(0), signal.SIGKILL)

    with pytest.raises(Exception) as info:
        dies()
    assert type(info.value).__name__ == "JobFailed"
    assert "about to die" in info.value.stderr_tail


def test_cancelled_job_failure_type_exists_for_schedulers():
    assert issubclass(JobCancelled, Exception)


def test_unknown_decorator_keyword_is_a_type_error_naming_valid_ones():
    with pytest.raises(TypeError, match=r"unknown key 'core'.*Did you mean 'cores'.*Valid keys: .*memory"):

        @cluster(core=2)
        def f():
            pass


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"memory": "16 gigs"}, "memory: cannot read '16 gigs'"),
        ({"time": "25:99"}, "time: cannot read '25:99'"),
        ({"cores": "two"}, "cores must be int"),
        ({"executor": "gpu"}, "executor='gpu' is not one of"),
    ],
)
def test_malformed_resource_fails_at_decoration(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        cluster(**kwargs)


def test_map_accepts_per_map_options_and_rejects_unknown_ones():
    assert [f.result(timeout=60) for f in add.map([1, 2], [3, 4], tasks_per_job=2)] == [4, 6]
    with pytest.raises(TypeError, match="unknown key 'chunks'"):
        add.map([1], [2], chunks=3)
