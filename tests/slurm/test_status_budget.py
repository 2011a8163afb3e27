"""The polling budget: outstanding jobs cost a bounded rate of scheduler status commands
(counted by shims first on PATH), while results are still read from their files."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from clustrix import cluster

STATUS_COMMANDS = ("squeue", "sacct", "scontrol")


def wait_for(path: str, value: int) -> int:
    while not os.path.exists(path):
        time.sleep(0.2)
    return value


def counting_shims(directory: Path, log: Path) -> str:
    """A PATH whose status commands append a line to ``log`` and run the real command."""
    directory.mkdir()
    for name in STATUS_COMMANDS:
        real = shutil.which(name)
        assert real, f"{name} is not on PATH"
        shim = directory / name
        shim.write_text(f'#!/bin/sh\necho "$(date +%s.%N) {name} $*" >> {log}\nexec {real} "$@"\n')
        shim.chmod(0o755)
    return f"{directory}:{os.environ['PATH']}"


def calls_between(log: Path, start: float, end: float, about: set[str]) -> list[str]:
    """The logged commands in [start, end) that asked about one of the jobs ``about`` (other
    watchers of this process, following earlier tests' jobs, use the same shims)."""
    lines = log.read_text().splitlines() if log.exists() else []
    return [line for line in lines if start <= float(line.split()[0]) < end and about & set(re.split(r"[\s,]+", line))]


@pytest.mark.accounting_independent  # counts commands; no job ends before the trigger
def test_outstanding_jobs_cost_a_bounded_rate_of_status_commands_and_results_are_still_seen(
    local_slurm: dict[str, Any], tmp_path: Path, monkeypatch: Any
) -> None:
    log = tmp_path / "status-commands.log"
    monkeypatch.setenv("PATH", counting_shims(tmp_path / "shims", log))
    trigger = tmp_path / "go"
    waiter = cluster(wait_for, **local_slurm, status_queries_per_minute=12)  # at most one per 5 s
    futures = [waiter.submit(str(trigger), i) for i in range(20)]  # 2 run on this node, 18 wait
    youngest = max(f.job.created for f in futures)
    try:
        while time.time() < youngest + 30:  # the budget is reached once the youngest is 10 s old
            time.sleep(1)
            assert not any(f.done() for f in futures), "a job ended before its trigger"
        asked = calls_between(log, youngest + 10, youngest + 30, {str(f.native_id) for f in futures})
        # 20 s at one query per 5 s: 4 queries, 5 at the window's edges; without a budget, ~11
        assert len(asked) <= 5, asked
        trigger.touch()
        assert [f.result(timeout=180) for f in futures] == list(range(20))
    finally:
        trigger.touch()
        for f in futures:
            f.cancel()
