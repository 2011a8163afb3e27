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


class ReportsTasks(ReportsCompleted):
    """A scheduler answering each array task's state from ``states`` (task -> state)."""

    def __init__(self, states: dict[int, State]) -> None:
        super().__init__()
        self.states = states

    def live(self, native_ids, target):
        return {("42", task): state for task, state in self.states.items()}


def claimed_job(tmp_path, n_elements: int, workers: int, claims: list[str]) -> tuple[Job, Target]:
    jobdir = tmp_path / "jobs" / "c1"
    for sub in ("results", "claims"):
        (jobdir / sub).mkdir(parents=True, exist_ok=True)
    for name in claims:
        (jobdir / "claims" / name).touch()
    settings = {"array_workers": workers, "result_grace": 0, "accounting_grace": 0}
    job = Job("c1", "f", "local", settings, jobdir, str(jobdir), n_elements, 1, native_id="42")
    return job, Target(resolve({}).values)


def test_element_of_a_dead_worker_is_released_once_while_another_worker_lives(tmp_path):
    job, target = claimed_job(tmp_path, 4, 2, ["0", "0.0", "1", "1.1"])
    scheduler = ReportsTasks({0: State.FAILED, 1: State.RUNNING})
    status = scheduler.clustrix_status([job], target)["c1"]
    assert [status.of(e) for e in range(4)] == [State.PENDING, State.RUNNING, State.PENDING, State.PENDING]
    assert sorted(p.name for p in (job.local_dir / "claims").iterdir()) == ["0.0.released", "0.released", "1", "1.1"]
    assert "released" in status.reason and "element 0 (worker 0" in status.reason

    # worker 1 takes element 0 again and dies too: no second release, the element ends as its worker did
    for name in ("0", "0.1"):
        (job.local_dir / "claims" / name).touch()
    (job.local_dir / "results" / "1.pkl").write_bytes(b"done")
    scheduler.states = {0: State.FAILED, 1: State.OUT_OF_MEMORY}
    scheduler._asked_at.clear()  # the polling budget would answer from the files alone until the next query
    status = scheduler.clustrix_status([job], target)["c1"]
    assert [status.of(e) for e in range(4)] == [State.OUT_OF_MEMORY, State.COMPLETED, State.LOST, State.LOST]
    assert status.state == State.COMPLETED


def test_no_release_once_every_worker_ended(tmp_path):
    job, target = claimed_job(tmp_path, 3, 2, ["0", "0.1"])
    scheduler = ReportsTasks({0: State.COMPLETED, 1: State.TIMEOUT})
    status = scheduler.clustrix_status([job], target)["c1"]
    assert [status.of(e) for e in range(3)] == [State.TIMEOUT, State.LOST, State.LOST]
    assert (job.local_dir / "claims" / "0.1").exists(), "nothing was released: no worker is left to rerun it"


def test_workers_are_the_tasks_of_a_job_packed_for_claiming(tmp_path):
    job, target = claimed_job(tmp_path, 10, 3, [])
    scheduler = ReportsTasks({})
    chunks = scheduler.chunks(job, target)
    assert [(c.first, c.size, c.array) for c in chunks] == [(0, 3, True)]
    script = scheduler.script(job, target, chunks[0])
    assert '--worker "$CLUSTRIX_WORKER"' in script and "CLUSTRIX_ELEMENT" not in script
    job.settings["array_workers"] = 10  # as many workers as elements: one task per element
    assert scheduler.workers(job) == 0 and scheduler.chunks(job, target)[0].size == 10


def test_elements_never_claimed_of_a_cancelled_job_are_cancelled(tmp_path):
    job, target = claimed_job(tmp_path, 3, 2, ["0", "0.0", "1"])  # 1: claimed, its holder not marked yet
    scheduler = ReportsTasks({0: State.CANCELLED, 1: State.CANCELLED})
    status = scheduler.clustrix_status([job], target)["c1"]
    assert [status.of(e) for e in range(3)] == [State.CANCELLED] * 3
