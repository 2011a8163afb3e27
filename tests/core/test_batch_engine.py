"""The batch engine's status logic, with a scheduler stub standing in for squeue/qstat."""

from __future__ import annotations

from typing import ClassVar

from clustrix.batch import BatchScheduler
from clustrix.job import Job, State
from clustrix.lifecycle import resolve
from clustrix.target import Target


class ReportsCompleted(BatchScheduler):
    """A scheduler that says every job is COMPLETED (as squeue -t all does once it ended)."""

    prefix = "#STUB"
    task_id_var = "STUB_TASK_ID"
    commands: ClassVar[dict[str, str]] = {}

    def live(self, native_ids, target):
        return {(nid, None): State.COMPLETED for nid in native_ids}

    def finished(self, native_ids, target, arrays=frozenset()):
        return {}

    def directives(self, job, target, chunk):
        return []

    def submit_argv(self, script, job, target, chunk):
        return ["true"]

    def parse_submit(self, done):
        return "42"

    def cancel_argv(self, native_ids, target):
        return ["true"]


def completed_job(tmp_path, **settings) -> tuple[Job, Target]:
    jobdir = tmp_path / "jobs" / "c1"
    (jobdir / "results").mkdir(parents=True)
    job = Job("c1", "f", "local", settings, jobdir, str(jobdir), 1, 1, native_id="42")
    return job, Target(resolve({}).values)


def test_completed_job_waits_for_a_lagging_result_file(tmp_path):
    scheduler = ReportsCompleted()
    job, target = completed_job(tmp_path, result_grace=60)
    assert scheduler.clustrix_status([job], target)["c1"].of(0) == State.RUNNING
    (job.local_dir / "results" / "0.pkl").write_bytes(b"appeared")
    assert scheduler.clustrix_status([job], target)["c1"].of(0) == State.COMPLETED


def test_completed_job_without_result_ends_once_the_grace_is_over(tmp_path):
    scheduler = ReportsCompleted()
    job, target = completed_job(tmp_path, result_grace=0)
    status = scheduler.clustrix_status([job], target)["c1"]
    assert status.of(0) == State.COMPLETED and status.state == State.COMPLETED
