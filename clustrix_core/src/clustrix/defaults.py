"""The core's own hook implementations: the first and last links of each chain.

Registered like any plugin, so a backend overrides a default by answering first:
staging, fetching and cleanup through the target's transport (trylast); the error chain
(remote exception first, typed failure with the stderr tail last); the local executor's
choice of threads or processes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import cloudpickle

from . import environment, errors, workdir
from .hookspecs import hookimpl
from .job import JobStatus, State
from .outcome import exception_of

if TYPE_CHECKING:
    from .job import Job
    from .target import Target

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
    state = status.of(job.element_of(call_index))
    cls = FAILURES.get(state, errors.JobLost)
    text = message or status.reason
    return cls(text, job_id=job.call_id(call_index), state=state.value, stderr_tail=stderr)


class TransportFiles:
    """Default staging, fetching and cleanup: files through ``target.transport``."""

    @hookimpl(trylast=True)
    def clustrix_stage(self, job: Job, target: Target) -> bool:
        transport = target.transport
        if str(job.local_dir) == job.remote_dir:
            return True
        blobs = target.blobs_needed(job)
        transport.mkdirs([*job.remote_subdirs(), job.remote_blobs_dir])
        remote_blobs = {f"{job.remote_blobs_dir}/{d}": d for d in blobs}
        for path in sorted(transport.missing(remote_blobs)):
            transport.put(target.home / "blobs" / remote_blobs[path], path)
        for item in sorted(job.local_dir.iterdir()):
            if item.is_file():
                transport.put(item, job.remote_file(item.name), mode=0o700 if item.suffix == ".sh" else 0o600)
        return True

    @hookimpl(trylast=True)
    def clustrix_fetch(self, job: Job, target: Target, elements: Sequence[int]) -> bool:
        if str(job.local_dir) != job.remote_dir:
            for e in elements:
                target.transport.get(job.remote_result(e), job.result_path(e))
        return True

    @hookimpl(trylast=True)
    def clustrix_cleanup(self, job: Job, target: Target) -> bool:
        if str(job.local_dir) != job.remote_dir:
            target.transport.remove_tree(job.remote_dir)
        return True


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


IO_NAMES = frozenset(
    [
        "open",
        "urlopen",
        "urlretrieve",
        "request",
        "get",
        "post",
        "put",
        "sleep",
        "recv",
        "send",
        "sendall",
        "connect",
        "accept",
        "read_csv",
        "read_text",
        "write_text",
        "read_bytes",
        "write_bytes",
        "requests",
        "socket",
        "subprocess",
    ]
)


def _names(code: Any) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= _names(const)
    return names


class ExplicitMode:
    @hookimpl(tryfirst=True)
    def clustrix_executor_mode(
        self, func: Callable[..., Any], requested: str | None, sample: Sequence[Any]
    ) -> str | None:
        return requested


class UnpicklableWork:
    @hookimpl
    def clustrix_executor_mode(
        self, func: Callable[..., Any], requested: str | None, sample: Sequence[Any]
    ) -> str | None:
        try:
            cloudpickle.dumps((func, list(sample)))
        except Exception:
            return "threads"
        return None


class IOBoundWork:
    @hookimpl
    def clustrix_executor_mode(
        self, func: Callable[..., Any], requested: str | None, sample: Sequence[Any]
    ) -> str | None:
        code = getattr(func, "__code__", None)
        if code is not None and _names(code) & IO_NAMES:
            return "threads"
        return None


class ProcessesByDefault:
    @hookimpl(trylast=True)
    def clustrix_executor_mode(self, func: Callable[..., Any], requested: str | None, sample: Sequence[Any]) -> str:
        return "processes"


PLUGINS: tuple[tuple[str, object], ...] = (
    ("clustrix.work-dir", workdir.plugin),
    ("clustrix.transport-files", TransportFiles()),
    ("clustrix.remote-exception", RemoteExceptionReader()),
    ("clustrix.generic-error", GenericError()),
    ("clustrix.mode.explicit", ExplicitMode()),
    ("clustrix.mode.unpicklable", UnpicklableWork()),
    ("clustrix.mode.io", IOBoundWork()),
    ("clustrix.mode.default", ProcessesByDefault()),
    ("clustrix.environment", environment.plugin),
)
