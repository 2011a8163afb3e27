"""Retries and checkpoints through the Torque-style wrappers (Slurm's cgroup memory enforcement
below them): a call killed for memory runs again with memory escalated, from its last save."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attempts import saves_then_allocates_300mb

from clustrix import cluster

TIMEOUT = 600  # the node is shared with the other tests: a deadline, not a speed


def test_call_killed_for_memory_resumes_from_its_checkpoint_with_memory_escalated(
    local_pbs: dict[str, Any], tmp_path: Path
) -> None:
    log = tmp_path / "steps.log"
    options = {**local_pbs, "memory": "200MB", "retries": 1, "escalate": {"memory": 2.0}}
    future = cluster(**options)(saves_then_allocates_300mb).submit(str(log))
    assert future.result(timeout=TIMEOUT) == 3 + 3
    assert [(a.state, a.resources["memory"]) for a in future.attempts] == [
        ("OUT_OF_MEMORY", "200MB"),
        ("COMPLETED", "400MB"),
    ]
    assert log.read_text().split() == ["1", "2", "3"]  # attempt 2 saved nothing again: it resumed at 3
    script = Path(future.job.remote_dir) / "job-0.a2.sh"
    assert ",mem=382mb" in script.read_text()  # attempt 2's script asks for 400 MB (382 MiB, rounded up)
