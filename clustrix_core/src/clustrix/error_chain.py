"""The core's links of the error chain: the pickled remote exception first (tryfirst),
a typed failure with the stderr tail last (trylast); a backend's log reader sits between."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .failures import STDERR_TAIL_BYTES, typed_failure
from .hookspecs import hookimpl
from .job import JobStatus
from .outcome import exception_of

if TYPE_CHECKING:
    from .job import Job
    from .target import Target


class RemoteExceptionReader:
    """First link of the error chain: the exception the runner pickled, if it wrote one."""

    @hookimpl(tryfirst=True)
    def clustrix_extract_error(
        self, job: Job, target: Target, call_index: int, status: JobStatus, outcome: tuple[Any, ...] | None
    ) -> BaseException | None:
        if outcome is not None and outcome[0] == "error":
            return exception_of(outcome, job.call_id(call_index))
        return None


class GenericError:
    """Last link: a typed failure from the state, with the stderr tail when there is one."""

    @hookimpl(trylast=True)
    def clustrix_extract_error(
        self, job: Job, target: Target, call_index: int, status: JobStatus, outcome: tuple[Any, ...] | None
    ) -> BaseException:
        element = job.element_of(call_index)
        stderr = target.transport.read_text(job.remote_log(element), STDERR_TAIL_BYTES) or ""
        message = "" if stderr.strip() else "no error information (the job wrote no result and no stderr)"
        return typed_failure(job, call_index, status, stderr, message)
