"""Retries on real Grid Engine: time escalation after h_rt, a user's exception, retry_on, exhaustion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clustrix import cluster
from clustrix.errors import JobTimeout
from clustrix.job import State

TIMEOUT = 180


def test_call_over_its_walltime_completes_on_attempt_2_with_time_escalated(local_sge: dict[str, Any]) -> None:
    # Grid Engine enforces h_rt on its load-report cycle (5 s here): a kill comes 1-5 s late, so the
    # call needs 2.4 walltimes (certainly killed) and attempt 2 gets 3 (certainly enough)
    @cluster(**local_sge, time="5s", retries=2, escalate={"time": 3.0})
    def needs_12s() -> str:
        import time

        time.sleep(12)
        return "done"

    future = needs_12s.submit()
    assert future.result(timeout=TIMEOUT) == "done"
    attempts = future.attempts
    assert [(a.attempt, a.state) for a in attempts] == [(1, "TIMEOUT"), (2, "COMPLETED")]
    assert [a.resources.get("time") for a in attempts] == ["5s", "00:00:15"]
    assert attempts[0].native_id != attempts[1].native_id == future.native_id


def test_user_exception_is_not_retried(local_sge: dict[str, Any]) -> None:
    @cluster(**local_sge, retries=2)
    def broken() -> None:
        raise ConnectionError("the database is down")

    future = broken.submit()
    with pytest.raises(ConnectionError, match="database is down"):
        future.result(timeout=TIMEOUT)
    assert [(a.attempt, a.state) for a in future.attempts] == [(1, "FAILED")]  # one attempt


def test_retry_on_retries_the_named_exception(local_sge: dict[str, Any], tmp_path: Path) -> None:
    marker = tmp_path / "first-attempt-ran"

    @cluster(**local_sge, retries=2, retry_on=(ConnectionError,))
    def flaky(path: str) -> str:
        import os

        if not os.path.exists(path):
            open(path, "w").close()
            raise ConnectionError("the database is down")
        return "connected"

    future = flaky.submit(str(marker))
    assert future.result(timeout=TIMEOUT) == "connected"
    attempts = future.attempts
    assert [(a.attempt, a.state) for a in attempts] == [(1, "FAILED"), (2, "COMPLETED")]
    assert "raised ConnectionError (retry_on)" in attempts[0].reason


def test_exhausted_retries_raise_the_last_typed_failure_with_every_attempt_noted(local_sge: dict[str, Any]) -> None:
    @cluster(**local_sge, time="3s", retries=1, escalate={"time": 2.0})
    def forever() -> None:
        import time

        time.sleep(300)

    future = forever.submit()
    with pytest.raises(JobTimeout) as info:
        future.result(timeout=TIMEOUT)
    ids = [a.native_id for a in future.attempts]
    notes = info.value.__notes__
    assert notes[0] == f"attempt 1: TIMEOUT with time=3s (sge {ids[0]})"
    assert notes[1] == f"attempt 2: TIMEOUT with time=00:00:06 (sge {ids[1]})"
    assert info.value.state == State.TIMEOUT.value


def test_only_the_retried_element_of_a_map_runs_again(local_sge: dict[str, Any], tmp_path: Path) -> None:
    @cluster(**local_sge, retries=1, retry_on=(ConnectionError,), tasks_per_job=1)
    def count(x: int, runs: str) -> int:
        import os

        path = os.path.join(runs, str(x))
        with open(path, "a") as f:
            f.write("ran\n")
        if x == 1 and open(path).read().count("ran") == 1:
            raise ConnectionError("first try of element 1")
        return x

    futures = count.map(range(3), [str(tmp_path)] * 3)
    assert [f.result(timeout=TIMEOUT) for f in futures] == [0, 1, 2]
    assert [(tmp_path / str(x)).read_text().count("ran") for x in range(3)] == [1, 2, 1]
    assert [[a.attempt for a in f.attempts] for f in futures] == [[1], [1, 2], [1]]
    assert (futures[1].job.local_dir / "results" / "1.attempt-1.pkl").exists()  # set aside, here too
