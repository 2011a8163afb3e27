"""Pod and Job objects as a real API server reports them, mapped to element states."""

from __future__ import annotations

from typing import Any

from clustrix.job import State
from clustrix_k8s.states import job_status, parse_indexes


def pod(index: int, phase: str, *, annotation_only: bool = False, **status: Any) -> dict[str, Any]:
    key = "batch.kubernetes.io/job-completion-index"
    meta: dict[str, Any] = {"name": f"p{index}-{phase.lower()}", "creationTimestamp": "2024-01-01T00:00:00Z"}
    meta["annotations" if annotation_only else "labels"] = {key: str(index)}
    return {"metadata": meta, "status": {"phase": phase, **status}}


def job_obj(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "j"},
        "spec": {"template": {"spec": {"containers": [{"image": "img"}]}}},
        "status": status,
    }


FAILED = {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "limit"}]}


def test_completed_indexes_ranges_are_expanded() -> None:
    assert parse_indexes("0-2,5,7-8") == {0, 1, 2, 5, 7, 8}
    assert parse_indexes(None) == set()


def test_index_from_the_annotation_of_older_servers(make_job: Any) -> None:
    status = job_status(make_job(), job_obj(), [pod(0, "Running", annotation_only=True)], cancelled=False)
    assert status.of(0) == State.RUNNING and not status.state.terminal


def test_disruption_condition_means_preempted(make_job: Any) -> None:
    disrupted = pod(
        0, "Failed", conditions=[{"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler"}]
    )
    status = job_status(make_job(), job_obj(**FAILED), [disrupted], cancelled=False)
    assert status.of(0) == State.PREEMPTED and "PreemptionByScheduler" in status.reasons[0]


def test_oom_in_last_state_counts(make_job: Any) -> None:
    oom = pod(0, "Failed", containerStatuses=[{"lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}])
    status = job_status(make_job(), job_obj(**FAILED), [oom], cancelled=False)
    assert status.of(0) == State.OUT_OF_MEMORY


def test_job_level_deadline_times_out_elements_without_pods(make_job: Any) -> None:
    deadline = {"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded", "message": "m"}]}
    status = job_status(make_job(n_calls=2), job_obj(**deadline), [], cancelled=False)
    assert status.elements == {0: State.TIMEOUT, 1: State.TIMEOUT} and status.state == State.COMPLETED


def test_elements_stopped_because_another_failed_the_job_are_lost_so_retried(make_job: Any) -> None:
    oom = pod(1, "Failed", containerStatuses=[{"state": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}])
    status = job_status(make_job(n_calls=3), job_obj(completedIndexes="0", **FAILED), [oom], cancelled=False)
    assert status.elements == {0: State.COMPLETED, 1: State.OUT_OF_MEMORY, 2: State.LOST}
    assert "one failed pod ends the whole Job" in status.reasons[2]


def test_failed_pod_with_retries_left_is_still_pending(make_job: Any) -> None:
    failed = pod(0, "Failed", containerStatuses=[{"state": {"terminated": {"reason": "Error", "exitCode": 1}}}])
    status = job_status(make_job(), job_obj(failed=1), [failed], cancelled=False)
    assert status.of(0) == State.PENDING


def test_vanished_job_is_lost_unless_cancelled(make_job: Any) -> None:
    job = make_job()
    assert job_status(job, None, [], cancelled=False).of(0) == State.LOST
    assert job_status(job, None, [], cancelled=True).of(0) == State.CANCELLED


def test_waiting_on_an_image_is_rejected_and_marks_the_job_stuck(make_job: Any) -> None:
    waiting = {"waiting": {"reason": "InvalidImageName", "message": 'couldn\'t parse image reference "img"'}}
    stuck = pod(0, "Pending", containerStatuses=[{"state": waiting}])
    status = job_status(make_job(), job_obj(), [stuck], cancelled=False)
    assert status.of(0) == State.REJECTED and status.stuck and "InvalidImageName" in status.reasons[0]
