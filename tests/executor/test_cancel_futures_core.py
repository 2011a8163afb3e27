"""Cancellation as concurrent.futures sees it, on the decorator's own futures."""

from __future__ import annotations

import concurrent.futures
import time

import pytest

from clustrix import cluster


@cluster
def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_cancelled_future_counts_as_done_for_wait_and_as_completed() -> None:
    future = nap.submit(3600)
    assert future.cancel()
    done, not_done = concurrent.futures.wait([future], timeout=60)
    assert done == {future} and not not_done
    assert list(concurrent.futures.as_completed([future], timeout=60)) == [future]


def test_cancelling_the_calls_left_of_a_map_cancels_its_array_job() -> None:
    quick, _, slow = futures = nap.map([0, 0, 3600], tasks_per_job=1)
    assert [f.result(timeout=120) for f in futures[:2]] == [0, 0]
    assert slow.cancel()
    store, job_id = slow.target.store, slow.job.job_id
    deadline = time.monotonic() + 60
    while store.row(job_id)["state"] in ("SUBMITTING", "PENDING", "RUNNING"):
        if time.monotonic() > deadline:
            pytest.fail(f"job {job_id} still {store.row(job_id)['state']} a minute after its last call was cancelled")
        time.sleep(0.2)
    assert store.row(job_id)["state"] == "CANCELLED"
    assert quick.result() == 0
