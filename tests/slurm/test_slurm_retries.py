"""Retries on real Slurm (cgroup memory enforcement): memory escalation after OUT_OF_MEMORY."""

from __future__ import annotations

from typing import Any

import pytest

from clustrix import cluster
from clustrix.errors import JobOutOfMemory

TIMEOUT = 600  # the cluster is shared with other tests: a deadline, not a speed


def allocate_300mb() -> int:
    block = b"x" * (300 * 10**6)  # written, so resident: the cgroup counts it
    return len(block)


def test_call_over_its_memory_fails_out_of_memory_without_retries(local_slurm: dict[str, Any]) -> None:
    future = cluster(**{**local_slurm, "memory": "200MB"})(allocate_300mb).submit()
    with pytest.raises(JobOutOfMemory):
        future.result(timeout=TIMEOUT)
    assert [(a.attempt, a.state) for a in future.attempts] == [(1, "OUT_OF_MEMORY")]


def test_call_over_its_memory_succeeds_on_attempt_2_with_memory_escalated(local_slurm: dict[str, Any]) -> None:
    options = {**local_slurm, "memory": "200MB", "retries": 2, "escalate": {"memory": 2.0}}
    future = cluster(**options)(allocate_300mb).submit()
    assert future.result(timeout=TIMEOUT) == 300 * 10**6
    attempts = future.attempts
    assert [(a.attempt, a.state) for a in attempts] == [(1, "OUT_OF_MEMORY"), (2, "COMPLETED")]
    assert [a.resources["memory"] for a in attempts] == ["200MB", "400MB"]
    assert attempts[0].native_id != attempts[1].native_id == future.native_id
