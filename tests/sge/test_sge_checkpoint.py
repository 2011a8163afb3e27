"""A call that needs three walltimes completes through checkpoints on real Grid Engine.

``time="8s"`` asks h_rt=8 s and no soft limit (a job given s_rt is no longer killed at
h_rt on Grid Engine 8.1): each attempt is killed at h_rt, ends TIMEOUT, and ``retries``
submits the element again; each attempt resumes from the checkpoint, so a kill loses at
most the work since the last save.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attempts import lost_steps, steps

from clustrix import cluster

DEADLINE = 180
# steps of 0.5 s: 30 s of work. Each attempt has 8 s, which Grid Engine enforces 1-5 s late (its
# load-report cycle): at most ~12 s of work per attempt, so at least 3 attempts, at most 5
TOTAL = 60


def test_call_needing_three_walltimes_completes_through_attempts_resuming_from_checkpoints(
    local_sge: dict[str, Any], tmp_path: Path
) -> None:
    log = tmp_path / "steps.log"
    future = cluster(**local_sge, time="8s", retries=6)(steps).submit(TOTAL, 0.5, str(log))
    script = Path(future.job.remote_dir) / "job-0.sh"
    lines = script.read_text().splitlines()
    assert "#$ -l h_rt=00:00:08" in lines and not any("s_rt" in line for line in lines)
    assert future.result(timeout=DEADLINE) == TOTAL
    states = [a.state for a in future.attempts]
    assert len(states) >= 3 and states[-1] == "COMPLETED"  # 30 s of work, at most ~12 s per attempt
    assert set(states[:-1]) == {"TIMEOUT"}  # killed at h_rt, never failed
    lost = lost_steps(log, TOTAL)
    print(f"{len(states)} attempts ({states}); work lost: {lost} steps of 0.5 s")
    assert lost <= 2 + 20  # at most the checkpoint interval + 10 s of work, in steps
