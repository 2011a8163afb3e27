"""A call that needs three walltimes completes through checkpoints on real Grid Engine.

``time="8s"`` asks h_rt=8 s and, with the warning (``stop_warning`` capped to a quarter of
it), a soft limit s_rt=6 s: Grid Engine sends SIGUSR1 there, ``checkpoint.stopping()``
turns true, the call saves and returns, its outcome is ``("requeue", "walltime...")``. The
next attempt is the element's script submitted again with the result set aside (what the
client does on a retry); it resumes from the checkpoint.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from attempts import lost_steps, saved, steps, wait_until

from clustrix import cluster
from clustrix.outcome import read_outcomes

DEADLINE = 120
TOTAL = 30  # steps of 0.5 s: 15 s of work, each attempt has 6 s before its warning


def test_call_needing_three_walltimes_completes_through_attempts_resuming_from_checkpoints(
    local_sge: dict[str, Any], tmp_path: Path
) -> None:
    log = tmp_path / "steps.log"
    future = cluster(**local_sge, time="8s")(steps).submit(TOTAL, 0.5, str(log))
    jobdir = Path(future.job.remote_dir)
    script = jobdir / "job-0.sh"
    assert {"#$ -l h_rt=00:00:08", "#$ -l s_rt=00:00:06"} <= set(script.read_text().splitlines())
    result = jobdir / "results" / "0.pkl"
    outcomes: list[tuple[Any, ...]] = []
    progress = []
    for attempt in range(1, 8):
        if attempt > 1:
            result.rename(jobdir / "results" / f"0.pkl.attempt{attempt - 1}")
            subprocess.run(["qsub", "-terse", str(script)], cwd=jobdir, check=True, capture_output=True)
        wait_until(result.exists, f"the result of attempt {attempt}", DEADLINE)
        (outcome,) = read_outcomes(result)
        outcomes.append(outcome)
        progress.append(saved(jobdir))
        if outcome[0] != "requeue":
            break
        assert outcome[1].startswith("walltime"), outcome
    assert outcomes[-1] == ("ok", TOTAL)
    assert len(outcomes) >= 3  # 15 s of work, at most 6 s per attempt
    assert progress == sorted(progress) and len(set(progress)) == len(progress)  # every attempt moved on
    lost = lost_steps(log, TOTAL)
    print(f"{len(outcomes)} attempts, checkpoints at {progress}; work lost: {lost} steps of 0.5 s")
    assert lost <= 2 + 20  # checkpoint interval + 10 s of work, per the issue, in steps
