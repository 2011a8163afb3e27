"""The typed failures of a call that wrote no result: which ``JobFailed`` a final state
raises, with the tail of the job's stderr."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import errors
from .job import JobStatus, State

if TYPE_CHECKING:
    from .job import Job

FAILURES: dict[State, type[errors.JobFailed]] = {
    State.TIMEOUT: errors.JobTimeout,
    State.OUT_OF_MEMORY: errors.JobOutOfMemory,
    State.CANCELLED: errors.JobCancelled,
    State.NODE_FAIL: errors.NodeFailure,
    State.PREEMPTED: errors.JobPreempted,
    State.REJECTED: errors.SubmissionRejected,
    State.FAILED: errors.JobFailed,
}
STDERR_TAIL_BYTES = 4000


def typed_failure(job: Job, call_index: int, status: JobStatus, stderr: str, message: str = "") -> errors.JobFailed:
    """The failure of call ``call_index``: its element's state picks the class (TIMEOUT ->
    JobTimeout, ...; unknown -> JobLost), ``message`` or ``status.reason`` the text."""
    state = status.of(job.element_of(call_index))
    cls = FAILURES.get(state, errors.JobLost)
    text = message or status.reason
    return cls(text, job_id=job.call_id(call_index), state=state.value, stderr_tail=stderr)
