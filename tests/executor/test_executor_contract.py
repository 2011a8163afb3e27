"""clustrix.Executor keeps the documented concurrent.futures.Executor contract.

Adapted from CPython's Lib/test/test_concurrent_futures (executor.py, test_shutdown.py,
test_wait.py, test_as_completed.py); each test names the one it adapts. They run on the
local backend and on the real Slurm.
"""

from __future__ import annotations

import concurrent.futures
import gc
import operator
import time
import weakref
from pathlib import Path
from typing import Any

import pytest

import clustrix


def divmod_(a: int, b: int) -> tuple[int, int]:
    return divmod(a, b)


def mul(x: int, y: int) -> int:
    return x * y


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def touch(folder: str, n: int) -> int:
    (Path(folder) / str(n)).write_text(str(n))
    return n


class Holder:
    def method(self) -> int:
        return 42


def test_submit_returns_a_future_with_the_result(settings: dict[str, Any]) -> None:
    """ExecutorTest.test_submit and test_submit_keyword."""
    with clustrix.Executor(**settings) as executor:
        future = executor.submit(pow, 2, 8)
        keyword = executor.submit(mul, 2, y=8)
        assert isinstance(future, concurrent.futures.Future)
        assert future.result(timeout=300) == 256
        assert keyword.result(timeout=300) == 16


def test_map_results_in_input_order(settings: dict[str, Any]) -> None:
    """ExecutorTest.test_map, with chunksize packing several calls into one array element."""
    with clustrix.Executor(**settings) as executor:
        assert list(executor.map(pow, range(10), range(10))) == list(map(pow, range(10), range(10)))
        assert list(executor.map(operator.add, range(7), range(7), chunksize=3)) == [2 * i for i in range(7)]
        assert list(executor.map(pow, [], [])) == []


def test_map_reraises_the_call_exception_at_its_result(settings: dict[str, Any]) -> None:
    """ExecutorTest.test_map_exception."""
    with clustrix.Executor(**settings) as executor:
        results = executor.map(divmod_, [1, 1, 1, 1], [2, 3, 0, 5])
        assert next(results) == (0, 1)
        assert next(results) == (0, 1)
        with pytest.raises(ZeroDivisionError):
            next(results)


def test_map_timeout_raises_and_cancels_the_call_not_done(settings: dict[str, Any], patience: float) -> None:
    """ExecutorTest.test_map_timeout; and the late call is cancelled, as leaving map early does."""
    results: list[float] = []
    with clustrix.Executor(**settings) as executor:
        mapped = executor.map(nap, [0, 0, 3600], timeout=patience, chunksize=1)
        with pytest.raises(TimeoutError):
            for value in mapped:
                results.append(value)
        assert results == [0, 0]
        late = [f for f in executor._futures if f.index == 2]
        assert len(late) == 1 and late[0].cancelled()
        store, job = late[0].target.store, late[0].job
    # the array job itself was cancelled: its record says so once the watcher settled it
    deadline = time.monotonic() + 120
    while store.row(job.job_id)["state"] not in ("CANCELLED", "COMPLETED", "FAILED"):
        assert time.monotonic() < deadline, f"job {job.job_id} still {store.row(job.job_id)['state']}"
        time.sleep(0.5)
    assert store.row(job.job_id)["state"] == "CANCELLED"


def test_map_submits_every_call_without_iteration(settings: dict[str, Any], tmp_path: Path) -> None:
    """ExecutorTest.test_map_submits_without_iteration (issue 11777)."""
    tmp_path.chmod(0o777)
    executor = clustrix.Executor(**settings)
    executor.map(touch, [str(tmp_path)] * 5, range(5))
    executor.shutdown(wait=True)
    assert sorted(int(p.name) for p in tmp_path.iterdir()) == list(range(5))


def test_submit_after_shutdown_raises_runtimeerror(settings: dict[str, Any]) -> None:
    """ExecutorShutdownTest.test_run_after_shutdown."""
    executor = clustrix.Executor(**settings)
    executor.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(pow, 2, 5)
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.map(pow, [2], [5])


def test_context_manager_waits_for_calls_and_shuts_down(settings: dict[str, Any]) -> None:
    """ExecutorShutdownTest.test_context_manager_shutdown."""
    with clustrix.Executor(**settings) as executor:
        futures = [executor.submit(abs, i) for i in (-2, 3)]
    assert all(f.done() for f in futures)
    assert [f.result() for f in futures] == [2, 3]
    with pytest.raises(RuntimeError):
        executor.submit(abs, 1)


def test_shutdown_without_wait_leaves_calls_running(settings: dict[str, Any]) -> None:
    """ExecutorShutdownTest.test_shutdown_no_wait: the calls still finish afterwards."""
    executor = clustrix.Executor(**settings)
    futures = [executor.submit(pow, 3, i) for i in range(2)]
    executor.shutdown(wait=False)
    assert [f.result(timeout=300) for f in futures] == [1, 3]


def test_shutdown_cancel_futures_cancels_calls_not_done(settings: dict[str, Any]) -> None:
    """ExecutorShutdownTest.test_cancel_futures: here every call not done is cancelled,
    running ones too (the cluster runs them, no worker of ours would finish them)."""
    executor = clustrix.Executor(**settings)
    done = executor.submit(abs, -1)
    assert done.result(timeout=300) == 1
    sleeping = [executor.submit(nap, 3600) for _ in range(2)]
    executor.shutdown(wait=True, cancel_futures=True)
    assert all(f.cancelled() for f in sleeping)
    assert done.result() == 1 and not done.cancelled()
    for future in sleeping:
        assert future.target.store.call_states(future.job.job_id) == {0: "CANCELLED"}


def test_wait_first_exception_and_all_completed(settings: dict[str, Any]) -> None:
    """WaitTests.test_first_exception and test_all_completed, on futures of this executor."""
    with clustrix.Executor(**settings) as executor:
        failing = executor.submit(divmod_, 1, 0)
        slow = executor.submit(nap, 3600)
        done, not_done = concurrent.futures.wait([failing, slow], return_when=concurrent.futures.FIRST_EXCEPTION)
        assert done == {failing} and not_done == {slow}
        assert isinstance(failing.exception(), ZeroDivisionError)
        assert slow.cancel()
        finished = [executor.submit(abs, -i) for i in range(3)]
        done, not_done = concurrent.futures.wait(finished, return_when=concurrent.futures.ALL_COMPLETED)
        assert done == set(finished) and not not_done


def test_as_completed_yields_every_future_once(settings: dict[str, Any]) -> None:
    """AsCompletedTests.test_no_timeout and test_duplicate_futures."""
    with clustrix.Executor(**settings) as executor:
        futures = [executor.submit(abs, -i) for i in range(3)]
        completed = list(concurrent.futures.as_completed([*futures, futures[0]], timeout=300))
        assert sorted(f.result() for f in completed) == [0, 1, 2]
        assert len(completed) == 3


def test_no_stale_reference_to_the_submitted_callable(settings: dict[str, Any]) -> None:
    """ExecutorTest.test_no_stale_references: a submitted bound method's object is freed."""
    holder = Holder()
    collected = weakref.ref(holder)
    with clustrix.Executor(**settings) as executor:
        assert executor.submit(holder.method).result(timeout=300) == 42
    del holder
    gc.collect()
    assert collected() is None
