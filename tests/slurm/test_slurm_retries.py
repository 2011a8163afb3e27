"""Retries on real Slurm (cgroup memory enforcement): memory escalation after OUT_OF_MEMORY,
a node that fails under a running call."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clustrix import cluster
from clustrix.errors import JobOutOfMemory
from clustrix_slurm.parsing import parse_partition_limits

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


def _node_state(node: str) -> str:
    done = subprocess.run(["sinfo", "-h", "-N", "-n", node, "-o", "%T"], capture_output=True, text=True)
    return done.stdout.split()[0] if done.stdout.split() else ""


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen in {timeout} s")
        time.sleep(0.5)


def test_call_on_a_node_that_fails_is_retried_and_succeeds(local_slurm: dict[str, Any], tmp_path: Path) -> None:
    started = tmp_path / "started"

    @cluster(**local_slurm, retries=1)
    def long_first_time(marker: str) -> str:
        import os
        import time

        if not os.path.exists(marker):
            open(marker, "w").close()
            time.sleep(300)  # the node fails meanwhile
        return "survived"

    future = long_first_time.submit(str(started))
    _wait_until(started.exists, "the call starting")
    node = subprocess.run(
        ["squeue", "-h", "-j", str(future.native_id), "-o", "%N"], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        subprocess.run(["scontrol", "update", f"nodename={node}", "state=down", "reason=clustrix-test"], check=True)
        _wait_until(lambda: len(future.attempts) == 2, "the retry after the node failure")
    finally:
        if "down" in _node_state(node) or "drain" in _node_state(node):  # ReturnToService may have resumed it
            subprocess.run(["scontrol", "update", f"nodename={node}", "state=resume"], check=True)
        _wait_until(lambda: _node_state(node) in ("idle", "mixed", "allocated"), f"node {node} coming back")
    assert future.result(timeout=TIMEOUT) == "survived"
    assert [(a.attempt, a.state) for a in future.attempts] == [(1, "NODE_FAIL"), (2, "COMPLETED")]


def test_memory_escalation_is_capped_by_what_the_partition_gives(local_slurm: dict[str, Any]) -> None:
    shown = subprocess.run(["scontrol", "show", "partition", "-o"], capture_output=True, text=True, check=True)
    cap = parse_partition_limits(shown.stdout, None)["memory"]  # the default partition's node memory here
    options = {**local_slurm, "memory": "200MB", "retries": 1, "escalate": {"memory": 1000.0}}
    future = cluster(**options)(allocate_300mb).submit()
    assert future.result(timeout=TIMEOUT) == 300 * 10**6
    assert [a.resources["memory"] for a in future.attempts] == ["200MB", f"{cap // 2**20}M"]  # not 200GB
