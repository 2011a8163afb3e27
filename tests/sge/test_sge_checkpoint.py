"""A call that needs three walltimes completes through checkpoints on real Grid Engine.

``time="8s"`` asks h_rt=8 s and, with the warning (``stop_warning`` capped to a quarter of
it), a soft limit s_rt=6 s: Grid Engine sends SIGUSR1 there, ``checkpoint.stopping()``
turns true, the call saves and returns, the runner records ``("requeue", "walltime...")``
and ``retries`` submits the element again; each attempt resumes from the checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attempts import lost_steps, steps

from clustrix import cluster

DEADLINE = 180
TOTAL = 30  # steps of 0.5 s: 15 s of work, each attempt has 6 s before its warning


def test_call_needing_three_walltimes_completes_through_attempts_resuming_from_checkpoints(
    local_sge: dict[str, Any], tmp_path: Path
) -> None:
    log = tmp_path / "steps.log"
    future = cluster(**local_sge, time="8s", retries=4)(steps).submit(TOTAL, 0.5, str(log))
    script = Path(future.job.remote_dir) / "job-0.sh"
    assert {"#$ -l h_rt=00:00:08", "#$ -l s_rt=00:00:06"} <= set(script.read_text().splitlines())
    assert future.result(timeout=DEADLINE) == TOTAL
    states = [a.state for a in future.attempts]
    assert len(states) >= 3 and states[-1] == "COMPLETED"  # 15 s of work, at most 6 s per attempt
    assert set(states[:-1]) == {"TIMEOUT"}  # requeued on the walltime warning, never failed
    lost = lost_steps(log, TOTAL)
    print(f"{len(states)} attempts ({states}); work lost: {lost} steps of 0.5 s")
    assert lost <= 2 + 20  # at most the checkpoint interval + 10 s of work, in steps
