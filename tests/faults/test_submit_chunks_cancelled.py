"""Never left behind: when submitting a job array in chunks fails part-way, no chunk keeps running.

A map larger than the scheduler's array limit is submitted as several array jobs
(chunks). If the submit command of a later chunk fails or raises, or the scheduler's
answer to one cannot be read, the chunks already submitted are cancelled, and so is the
chunk whose answer was unreadable (found by its script), before the error is raised.

Against the real Slurm: the array limit is lowered to 2 for the test's target, and the
chunks are submitted held (``--hold``), so they are still queued when the check runs.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import clustrix_slurm
from clustrix import cluster
from clustrix.errors import SubmissionRejected, TransportError
from clustrix.transport import Completed
from clustrix_slurm import parsing
from infrastructure import require

LIVE = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED"}


def live_states(ids: list[str]) -> dict[str, str]:
    """Every task of these jobs that Slurm still holds or runs (squeue's default states)."""
    done = subprocess.run(
        ["squeue", "-h", "-r", "-j", ",".join(ids), "-o", "%i|%T"], capture_output=True, text=True, timeout=60
    )
    rows = [line.split("|") for line in done.stdout.splitlines() if "|" in line]
    return {task: state for task, state in rows if state in LIVE}


@pytest.fixture
def held_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """@cluster keywords for 5 held elements on the local Slurm, in chunks of at most 2; every
    id sbatch printed is recorded in ``submitted`` (and cancelled at the end, whatever happened)."""
    require("slurm")
    plugin = clustrix_slurm.plugin
    monkeypatch.setattr(plugin, "max_array_size", lambda target: 2)
    submitted: list[str] = []
    real_run = plugin.run

    def recording_run(target: Any, argv: list[str], timeout: float = 60, **options: Any) -> Completed:
        done = real_run(target, argv, timeout, **options)
        if "--parsable" in argv and done.returncode == 0:
            submitted.append(parsing.parse_sbatch(done.stdout))
        return done

    monkeypatch.setattr(plugin, "run", recording_run)
    options = {
        "cluster_type": "slurm",
        "memory": "64MB",
        "remote_work_dir": str(tmp_path / "work"),  # its own target, so the lowered limit is read
        "extra_directives": ["--hold"],
        "tasks_per_job": 1,
    }
    yield {"options": options, "submitted": submitted}
    if submitted:
        subprocess.run(["scancel", *submitted], capture_output=True, timeout=60)


def test_unreadable_answer_for_the_second_chunk_cancels_both_chunks(
    held_map: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = clustrix_slurm.plugin
    real_parse = plugin.parse_submit
    answers: list[str] = []

    def parse_fails_on_second(done: Completed) -> str:
        answers.append(done.stdout)
        if len(answers) == 2:
            raise ValueError("unexpected answer")
        return real_parse(done)

    monkeypatch.setattr(plugin, "parse_submit", parse_fails_on_second)

    @cluster(**held_map["options"])
    def square(x: int) -> int:
        return x * x

    with pytest.raises(SubmissionRejected, match=r"holds no job id .* cancelled it") as raised:
        square.map(range(5))
    submitted = held_map["submitted"]
    assert len(submitted) == 2, "the third chunk is never submitted"
    assert submitted[1] in str(raised.value), "the error names the chunk it found and cancelled"
    assert live_states(submitted) == {}


def test_failing_submit_command_for_a_later_chunk_cancels_the_earlier_ones(
    held_map: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = clustrix_slurm.plugin
    recording_run = plugin.run
    submits = 0

    def connection_drops_on_second_submit(
        target: Any, argv: list[str], timeout: float = 60, **options: Any
    ) -> Completed:
        nonlocal submits
        if "--parsable" in argv:
            submits += 1
            if submits == 2:
                raise TransportError("connection to the login node dropped")
        return recording_run(target, argv, timeout, **options)

    monkeypatch.setattr(plugin, "run", connection_drops_on_second_submit)

    @cluster(**held_map["options"])
    def square(x: int) -> int:
        return x * x

    with pytest.raises(TransportError, match="dropped"):
        square.map(range(5))
    submitted = held_map["submitted"]
    assert len(submitted) == 1
    assert live_states(submitted) == {}


def test_jobs_running_reads_squeue_command_column() -> None:
    text = "812|/scratch/u/.clustrix/jobs/c1/job-1.sh\n813|/scratch/u/.clustrix/jobs/c1/job-10.sh\n90|bash\n"
    assert parsing.jobs_running(text, "/scratch/u/.clustrix/jobs/c1/job-1.sh") == ["812"]
