"""What ``.map()`` returns: a list of futures made when they are taken (issue 15's
million-call maps), which behaves as the list it used to be, settles thread-safely, and
costs one list slot per call until a future is taken."""

from __future__ import annotations

import concurrent.futures
import gc
import os
import random
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from clustrix import ClusterFuture, FutureList, cluster
from clustrix.job import Job


@cluster
def add(x: int, y: int) -> int:
    return x + y


@cluster
def after_gate(gate: str, x: int) -> int:
    """``x`` once ``gate`` exists (at most two minutes)."""
    deadline = time.monotonic() + 120
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            raise TimeoutError(gate)
        time.sleep(0.05)
    return x


def _list(n: int) -> FutureList:
    """A FutureList of n calls that no backend runs: the test settles it as the watcher would."""
    job = Job("cfuturelisttest", "f", "local", {}, Path("/nonexistent"), "/nonexistent", n, 16)
    return FutureList(job, None)  # type: ignore[arg-type]  # no target: nothing here reaches a backend


def test_map_result_behaves_as_the_list_of_futures_it_was() -> None:
    futures = add.map([1, 2, 3], [10, 20, 30])
    assert isinstance(futures, FutureList) and len(futures) == 3
    first, second, third = futures
    assert all(isinstance(f, ClusterFuture) for f in futures)
    assert futures[0] is first and futures[-1] is third and futures[1:] == [second, third]
    assert list(futures) == [first, second, third] and futures == [first, second, third]
    assert second in futures and futures.index(third) == 2
    assert [f.job_id for f in futures] == [f"{first.job.job_id}.{i}" for i in range(3)]
    done, not_done = concurrent.futures.wait(futures, timeout=120)
    assert not not_done and done == set(futures)
    assert sorted(f.result() for f in concurrent.futures.as_completed(futures, timeout=120)) == [11, 22, 33]
    assert [f.result() for f in futures] == [11, 22, 33]
    assert futures + [first] == [first, second, third, first]  # noqa: RUF005  # `+` is what is tested
    with pytest.raises(IndexError):
        futures[3]


def test_a_future_taken_after_its_call_ended_is_done_with_its_outcome() -> None:
    futures = _list(3)
    error = ValueError("boom")
    assert futures.settle(0, True, "value") and futures.settle(1, False, error)
    assert futures.cancel(2)
    assert not futures.settle(2, True, "late")  # a cancelled call stays cancelled
    assert futures.all_done()
    assert futures[0].result(timeout=0) == "value"
    assert futures[1].exception(timeout=0) is error
    assert futures[2].cancelled()


def test_a_future_taken_while_pending_gets_its_callback_though_the_caller_dropped_it() -> None:
    futures = _list(2)
    seen: list[object] = []
    futures[1].add_done_callback(lambda f: seen.append(f.result()))
    gc.collect()  # the caller holds no reference: the list must
    futures.settle(1, True, 42)
    assert seen == [42]


def test_results_settled_by_one_thread_reach_every_waiter_in_others() -> None:
    n = 4000
    futures = _list(n)
    order = list(range(n))
    random.Random(15).shuffle(order)
    got: dict[int, object] = {}
    errors: list[BaseException] = []

    def wait_for(indexes: list[int]) -> None:
        try:
            for i in indexes:
                got[i] = futures[i].result(timeout=120)
        except BaseException as exc:  # reported below; a hang fails on the timeout above
            errors.append(exc)

    waiters = [threading.Thread(target=wait_for, args=(order[k::4],)) for k in range(4)]
    for t in waiters:
        t.start()
    for i in reversed(order):  # settled meanwhile, in another order than the waiters take them
        futures.settle(i, True, i * 2)
    for t in waiters:
        t.join(timeout=180)
    assert not errors and got == {i: i * 2 for i in range(n)}


def test_cancelling_one_call_of_a_big_map_cancels_it_alone(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    n = 5000
    futures = after_gate.map([str(gate)] * n, range(n))
    assert futures[4321].cancel()
    gate.touch()
    done, _ = concurrent.futures.wait(futures[:10], timeout=120)
    assert [f.result() for f in sorted(done, key=lambda f: f.index)] == list(range(10))
    values = [f.result(timeout=120) for i, f in enumerate(futures) if i != 4321]
    assert values == [i for i in range(n) if i != 4321]
    gc.collect()
    assert futures[4321].cancelled()  # taken again: still the cancelled future
    store = futures[0].target.store
    deadline = time.monotonic() + 60
    while store.row(futures.job.job_id)["state"] not in ("COMPLETED", "FAILED", "CANCELLED"):
        assert time.monotonic() < deadline, "the job never ended in the store"
        time.sleep(0.05)
    states = store.call_states(futures.job.job_id)
    assert states[4321] == "CANCELLED" and states[4320] == states[0] == "COMPLETED"


def test_a_pending_map_holds_a_list_slot_per_call_not_a_future(tmp_path: Path) -> None:
    """Memory kept by a 100,000-call map until its futures are taken: a Future (with its
    Condition) is about a kilobyte, a slot in a list 8 bytes; a few dozen bytes a call
    leave room for the job's own structures and none for a future per call."""
    gate = tmp_path / "gate"
    n = 100_000
    after_gate.map([str(gate)], [0])[0].cancel()  # the worker's first start is not what is measured
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        futures = after_gate.map([str(gate)] * n, range(n))
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        gate.touch()
    assert len(futures) == n
    assert kept / n < 64, f"{kept / n:.0f} bytes kept per call"
    assert futures[-1].result(timeout=120) == n - 1


def test_repr_is_the_lists_up_to_a_hundred_futures_then_says_how_many_more() -> None:
    short, long = _list(3), _list(250)
    assert repr(short) == repr(list(short))
    assert repr(long) == repr(long[:100])[:-1] + ", ... 150 more]"
