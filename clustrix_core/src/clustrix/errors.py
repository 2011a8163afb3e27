"""One exception hierarchy for everything Clustrix itself raises.

A function's own exception is never wrapped: it is re-raised with its original type.
The errors here are for what went wrong around the function.
"""

from __future__ import annotations

from typing import Any


class ClustrixError(Exception):
    """Base of every error raised by Clustrix itself."""


class ConfigError(ClustrixError, ValueError):
    """A configuration key or value is wrong; raised before anything is submitted."""


class BackendNotInstalled(ConfigError):
    """The configured backend has no installed plugin."""

    def __init__(self, name: str, available: list[str]) -> None:
        super().__init__(
            f"backend {name!r} is not installed; install it with "
            f"`pip install clustrix-{name}` (or `pip install clustrix[{name}]`). "
            f"Installed backends: {', '.join(sorted(available)) or 'none'}"
        )
        self.name = name


class PicklingError(ClustrixError, TypeError):
    """The function or one of its arguments cannot be pickled, so it cannot be sent."""


class TransportError(ClustrixError):
    """A command or a file transfer to the execution host failed."""


class PluginContractError(ClustrixError):
    """A plugin breaks the contract of :mod:`clustrix.hookspecs` (e.g. a backend without a
    required hook): it is refused at load; fix or uninstall it (``clustrix plugins``)."""


class CheckFailed(ClustrixError):
    """A ``clustrix doctor`` check failed: ``detail`` says what it found, ``fix`` what to do."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.detail, self.fix = detail, fix


class StatusUnavailable(ClustrixError):
    """A job's status could not be read for ``status_failures`` poll cycles in a row.

    The job may still be running: check the host (``clustrix doctor``), then pick the job
    up again with ``clustrix.attach`` or ``clustrix status``.
    """


class HostKeyError(TransportError):
    """The SSH host key is unknown or does not match known_hosts."""


class CommandOutcomeUnknown(TransportError):
    """A command with side effects was sent, then the connection failed or stalled: it may
    or may not have run on the host, so it must not be repeated blindly."""


class RemoteEnvironmentError(ClustrixError):
    """The execution host has no Python that can run the job (wrong version, no cloudpickle)."""


class ResultCorrupted(ClustrixError):
    """A result file's digest does not match its content; it is not unpickled."""


class ResultForged(ResultCorrupted):
    """A result file is not authenticated by its job's key (altered, forged, or from an
    older Clustrix); it is refused before anything in it is unpickled."""


class ResultUnreadable(ClustrixError):
    """An authenticated result cannot be unpickled here (its class exists only on the
    execution host, or its ``__reduce__``/``__setstate__`` fails); the cause is chained."""


class UnsafeWorkDir(ConfigError):
    """The remote work directory (or a directory above it) can be changed by other users."""


class JobNotFound(ClustrixError, KeyError):
    """No job with this id is in the job store."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "job not found"


class JobFailed(ClustrixError):
    """The job ended without a result of its own.

    Carries the job id, the scheduler's state and the tail of the job's stderr.
    """

    what = "the job failed"

    def __init__(
        self,
        message: str = "",
        *,
        job_id: str | None = None,
        state: str | None = None,
        stderr_tail: str = "",
    ) -> None:
        self.job_id = job_id
        self.state = state
        self.stderr_tail = stderr_tail
        text = f"{self.what}: {message}" if message else self.what
        if job_id:
            text = f"job {job_id}: {text}"
        if state:
            text += f" (scheduler state {state})"
        if stderr_tail.strip():
            text += "\n--- tail of the job's stderr ---\n" + stderr_tail.rstrip()
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:  # keep keyword fields through pickling
        return (
            _rebuild_job_failed,
            (type(self), self.args[0], self.job_id, self.state, self.stderr_tail),
        )


def _rebuild_job_failed(cls, text, job_id, state, tail):  # type: ignore[no-untyped-def]
    err = cls.__new__(cls)
    Exception.__init__(err, text)
    err.job_id, err.state, err.stderr_tail = job_id, state, tail
    return err


class JobTimeout(JobFailed):
    what = "the job exceeded its time limit; raise `time=`"


class JobOutOfMemory(JobFailed):
    what = "the job ran out of memory; raise `memory=`"


class JobCancelled(JobFailed):
    what = "the job was cancelled"


class NodeFailure(JobFailed):
    what = "the node running the job failed"


class JobPreempted(JobFailed):
    what = "the job was preempted or evicted"


class SubmissionRejected(JobFailed):
    what = "the scheduler rejected the submission"


class SubmissionUncertain(JobFailed):
    what = (
        "the connection failed after the submit command was sent and Clustrix could not learn whether the "
        "scheduler accepted the job; look for the job (its submit script is named below) in the queue "
        "before submitting again"
    )


class JobLost(JobFailed):
    what = "the job ended without writing a result and left no error information"


class RemoteBaseException(JobFailed):
    """The function raised a ``BaseException`` that is not an ``Exception`` (``SystemExit``,
    ``KeyboardInterrupt``, ``GeneratorExit``): re-raised as is it would end the caller."""

    what = "the function raised a BaseException that would end this process"


class RemoteSystemExit(RemoteBaseException):
    """The function called ``sys.exit()`` on the execution host; ``exit_code`` is its code."""

    what = "the function called sys.exit() on the execution host"

    def __init__(self, message: str = "", *, exit_code: Any = None, **kwargs: Any) -> None:
        self.exit_code = exit_code
        super().__init__(message, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        args = super().__reduce__()[1]
        return (_rebuild_system_exit, (args, self.exit_code))


def _rebuild_system_exit(args, exit_code):  # type: ignore[no-untyped-def]
    err = _rebuild_job_failed(*args)
    err.exit_code = exit_code
    return err


class RemoteKeyboardInterrupt(RemoteBaseException):
    what = "the function raised KeyboardInterrupt on the execution host (interrupted there)"


class RemoteGeneratorExit(RemoteBaseException):
    what = "the function raised GeneratorExit on the execution host"


class StoreError(ClustrixError):
    """The job store (``jobs.sqlite`` in Clustrix's home) could not be read or written."""


class StoreBusy(StoreError):
    """Another process held the job store's lock for longer than the store waits."""


class DependencyFailed(JobFailed):
    """A call this one takes as an argument (a :class:`~clustrix.ClusterFuture` passed in)
    failed, so this call never ran. ``parent_id`` names that call; its exception is the
    ``__cause__``. Fix the parent's failure and submit both again."""

    what = "a job it depends on failed"

    def __init__(self, message: str = "", *, parent_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.parent_id = parent_id

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_dependency_failed, (self.args[0], self.job_id, self.parent_id))


def _rebuild_dependency_failed(text, job_id, parent_id):  # type: ignore[no-untyped-def]
    err = _rebuild_job_failed(DependencyFailed, text, job_id, None, "")
    err.parent_id = parent_id
    return err
