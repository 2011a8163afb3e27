"""Claiming tests' scenarios, run on each batch scheduler (Slurm, SGE, the Torque wrappers).

A map packed for claiming launches ``array_workers`` array tasks; each claims the next
element without a result (``claims/E``, then ``claims/E.W``), runs it and claims again.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from clustrix import cluster


def record(log: str, i: int, seconds: float = 0.0) -> tuple[int, int]:
    """Appends ``i`` to ``log`` as it starts (a call run twice shows twice), sleeps, returns (i, i * i)."""
    import time

    with open(log, "a") as f:
        f.write(f"{i}\n")
    time.sleep(seconds)
    return i, i * i


def started(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.exists() else []


def every_result_once_from_few_workers(options: dict[str, Any], tmp_path: Path) -> None:
    """300 calls, 3 workers: 6 elements of 50 calls, three array tasks; every call runs once
    and every result comes back once, whoever ran it."""
    log = tmp_path / "started"
    log.touch()

    @cluster(**options, array_workers=3, keep_files=True)
    def square(i: int) -> tuple[int, int]:
        return record(str(log), i)

    futures = square.map(range(300))
    assert [f.result(timeout=300) for f in futures] == [(i, i * i) for i in range(300)]
    job = futures[0].job
    assert (job.n_elements, job.settings["array_workers"]) == (6, 3)
    scripts = sorted(p.name for p in job.local_dir.glob("job-*.sh"))
    script = (job.local_dir / scripts[0]).read_text()
    assert "--worker" in script, script
    assert sorted(started(log)) == list(range(300)), "each call ran exactly once"
    claims = futures[0].target.transport.listdirs([job.remote_claims_dir])[job.remote_claims_dir]
    assert {name for name in claims if "." not in name} == {str(e) for e in range(6)}, claims
    markers = [name.split(".") for name in claims if "." in name]
    assert sorted(int(e) for e, _ in markers) == list(range(6)), "one holder per element"
    assert {int(w) for _, w in markers} <= {0, 1, 2}


def second(pair: tuple[int, int]) -> int:
    return pair[1]


def kill_the_worker_running_call_0(futures: Any, log: Path) -> None:
    marker = futures[0].job.local_dir / "status" / "0.started"  # the scheduler runs the job on this host
    deadline = time.monotonic() + 120
    while not (marker.exists() and 0 in started(log)):
        assert time.monotonic() < deadline, "call 0 never started"
        time.sleep(0.1)
    os.kill(json.loads(marker.read_text())["pid"], signal.SIGKILL)


def killed_worker_has_its_element_rerun(options: dict[str, Any], tmp_path: Path) -> Any:
    """6 calls of 1.5 s, 2 workers; the worker running call 0 is killed (SIGKILL) mid-call.
    Its claim is released and the other worker runs call 0 again: every result comes back
    once, call 0 started twice. A map taking those results, submitted before the kill,
    still runs: the scheduler holds it until the parent's tasks ended, not succeeded.
    Returns the dependent job (a test may look at its script)."""
    log = tmp_path / "started"
    log.touch()

    @cluster(**options, array_workers=2, tasks_per_job=1, keep_files=True)
    def slow(i: int) -> tuple[int, int]:
        return record(str(log), i, 1.5)

    futures = slow.map(range(6))
    job = futures[0].job
    assert (job.n_elements, job.settings["array_workers"]) == (6, 2)
    squares = cluster(second, **options).map(futures)
    kill_the_worker_running_call_0(futures, log)
    assert [f.result(timeout=300) for f in futures] == [(i, i * i) for i in range(6)]
    assert [f.result(timeout=300) for f in squares] == [i * i for i in range(6)]
    runs = started(log)
    assert runs.count(0) == 2, runs
    assert sorted(set(runs)) == list(range(6)) and len(runs) == 7, runs
    claims = futures[0].target.transport.listdirs([job.remote_claims_dir])[job.remote_claims_dir]
    assert "0.released" in claims, claims
    return squares[0].job
