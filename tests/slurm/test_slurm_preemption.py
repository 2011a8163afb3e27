"""Preemption and the walltime warning on real Slurm (partitions low/high of tests/infra/slurm.sh).

A checkpointing call in ``low`` is preempted by a job in ``high`` that needs every CPU of the
node: Slurm sends SIGTERM, GraceTime (10 s) before SIGKILL; the runner turns it into
``checkpoint.stopping()``, the call saves and returns, its outcome is ``("requeue", ...)``,
and ``retries`` runs the next attempt, which resumes from the checkpoint.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from attempts import lost_steps, saved, steps, wait_until

from clustrix import cluster
from clustrix.job import Job
from clustrix.outcome import read_outcomes

DEADLINE = 300  # the node is shared with the other Slurm tests: a deadline, not a speed
TOTAL = 60  # steps of 1 s: longer than Slurm takes to preempt (its scheduling cycle, up to ~30 s)


def node_cpus() -> int:
    out = subprocess.run(["sinfo", "-h", "-p", "high", "-o", "%c"], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0].rstrip("+"))


@pytest.mark.accounting_independent  # the requeue is read from the result file
def test_preempted_call_is_requeued_and_resumes_from_its_checkpoint(
    local_slurm: dict[str, Any], tmp_path: Path
) -> None:
    log = tmp_path / "steps.log"
    future = cluster(**local_slurm, partition="low", retries=3)(steps).submit(TOTAL, 1.0, str(log))
    jobdir = Path(future.job.remote_dir)
    wait_until(lambda: (saved(jobdir) or 0) >= 3, "three saved steps", DEADLINE)

    argv = ["sbatch", "--parsable", "-p", "high", f"--cpus-per-task={node_cpus()}", "--mem=64M", "-o", "/dev/null"]
    high = subprocess.run([*argv, "--wrap", "true"], capture_output=True, text=True, check=True).stdout.strip()
    try:
        assert future.result(timeout=DEADLINE) == TOTAL
    finally:
        subprocess.run(["scancel", high], check=False)
    *preempted, last = [a.state for a in future.attempts]
    # the high job may preempt the next attempt too when it could not start at once (the node is shared)
    assert last == "COMPLETED" and preempted and set(preempted) == {"PREEMPTED"}
    ((tag, reason),) = read_outcomes(jobdir / "results" / Job.set_aside_name(0, 1))
    assert tag == "requeue" and reason.startswith("terminated"), reason  # it returned within GraceTime
    assert "SIGTERM: checkpoint.stopping() is now true" in (jobdir / "logs" / "0.err").read_text()
    lost = lost_steps(log, TOTAL)
    print(f"preempted {len(preempted)} time(s); work lost: {lost} steps of 1 s")
    assert lost <= (1 + 10) * len(preempted)  # per preemption: the checkpoint interval (1 s) + 10 s of work


@pytest.mark.accounting_independent  # the attempts are read from the result files and the store
def test_call_needing_three_walltimes_completes_in_three_attempts_from_its_checkpoints(
    local_slurm: dict[str, Any], tmp_path: Path
) -> None:
    """Slurm's shortest time limit is a minute. slurmctld checks time limits every 30 s and
    sends ``--signal`` (USR1@15) at the first check with at most 15 + 30 s left: 15-45 s into
    each attempt (~29 s seen here). A 95 s call therefore needs at least three attempts."""
    log = tmp_path / "steps.log"
    total = 95  # more than two attempts' work
    future = cluster(**local_slurm, time="1", retries=8)(steps).submit(total, 1.0, str(log))
    jobdir = Path(future.job.remote_dir)
    assert "#SBATCH --signal=B:USR1@15" in (jobdir / "job-0.sh").read_text()  # 60 s: a quarter of it
    assert future.result(timeout=DEADLINE + 240) == total
    *stopped, last = future.attempts
    assert last.state == "COMPLETED" and len(stopped) >= 2
    assert {a.state for a in stopped} == {"TIMEOUT"}, [(a.state, a.reason) for a in stopped]
    assert len({a.native_id for a in future.attempts}) == len(future.attempts)
    warned = [a for a in stopped if a.reason.startswith("requeued: walltime")]
    # an attempt Slurm killed before warning it (none seen) would still resume from its last save
    assert warned, "no attempt was warned before its walltime: " + repr([a.reason for a in stopped])
    assert "SIGUSR1: checkpoint.stopping() is now true" in (jobdir / "logs" / "0.err").read_text()
    lost = lost_steps(log, total)
    print(f"{len(future.attempts)} attempts ({len(warned)} warned); work lost: {lost} steps of 1 s")
    assert lost <= 2 * len(stopped)  # per walltime: the step running (1 s), plus the one it saved and returned
