# mypy: disable-error-code="empty-body"
"""The hooks a Clustrix plugin implements: the manual a backend author reads.

A backend is a plugin registered under its backend name through the entry-point
group ``clustrix`` (``slurm = "clustrix_slurm:plugin"``) that implements
``clustrix_submit``. For one job, the core calls only the configured backend's
implementations (plus every non-backend plugin, e.g. a hookwrapper auditing submits),
so no hook has to ask "is this job mine?".

Arguments: ``job`` is a :class:`clustrix.job.Job` (its ``local_dir`` holds the
packaged payload; ``job.remote_dir`` is where it runs), ``target`` a
:class:`clustrix.target.Target` (resolved settings, ``target.transport`` to run
commands and move files). Hooks marked *firstresult* stop at the first non-``None``
answer; returning ``None`` means "not me, ask the next one".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .config import Setting
    from .job import Job, JobStatus
    from .target import Target

hookspec = pluggy.HookspecMarker("clustrix")
hookimpl = pluggy.HookimplMarker("clustrix")

#: the hooks every backend implements; a backend missing one is refused when plugins load
REQUIRED_HOOKS = ("clustrix_submit", "clustrix_status", "clustrix_cancel")


@hookspec
def clustrix_settings() -> Sequence[Setting]:
    """Configuration keys this plugin reads (e.g. ``qsub``, ``pbs_flavor``).

    Every plugin's keys are accepted in ``configure()``, decorators, env vars and files.
    """


@hookspec(firstresult=True)
def clustrix_stage(job: Job, target: Target) -> bool | None:
    """Put the packaged job where it will run, before ``clustrix_submit``.

    The core's default copies the job directory and its payload blobs with
    ``target.transport``; a backend without a filesystem (Kubernetes) stages its own way.
    """


@hookspec(firstresult=True)
def clustrix_render(job: Job, target: Target) -> str | None:
    """Return the job script this backend would submit, without submitting (dry run)."""


@hookspec(firstresult=True)
def clustrix_submit(job: Job, target: Target) -> str | None:
    """Start the staged job and return its native id (scheduler id, pid, Job name).

    Raise :class:`clustrix.errors.SubmissionRejected` with the scheduler's message when
    the scheduler refuses. Must not return before the scheduler knows the job.
    """


@hookspec(firstresult=True)
def clustrix_status(jobs: Sequence[Job], target: Target) -> dict[str, JobStatus] | None:
    """Batched status: the state of many jobs of one target, in one scheduler call.

    Return ``{job.job_id: JobStatus}``; a job missing from the answer is still running
    as far as the backend knows. Called once per poll cycle by the target's watcher.
    """


@hookspec(firstresult=True)
def clustrix_fetch(job: Job, target: Target, elements: Sequence[int]) -> bool | None:
    """Bring the result files of finished ``elements`` into ``job.local_dir/results``.

    The core's default copies them with ``target.transport``.
    """


@hookspec(firstresult=True)
def clustrix_extract_error(
    job: Job, target: Target, call_index: int, status: JobStatus, outcome: tuple[Any, ...] | None
) -> BaseException | None:
    """The exception to raise for a call that did not return a value.

    ``outcome`` is the call's entry in the element's result file, or ``None`` when the
    element wrote none (killed, timed out, lost). A chain: the core's reader of the
    pickled remote exception runs first (tryfirst), a backend's log reader is the
    fallback (e.g. "DUE TO TIME LIMIT" in Slurm's stderr), and a generic answer last:
    a typed failure from ``status`` with the stderr tail, or "no error information".
    """


@hookspec(firstresult=True)
def clustrix_cancel(jobs: Sequence[Job], target: Target) -> bool | None:
    """Cancel these jobs wherever they run (one scheduler command where possible)."""


@hookspec(firstresult=True)
def clustrix_cleanup(job: Job, target: Target) -> bool | None:
    """Remove the job's remote files after its result has been read."""


@hookspec(firstresult=True)
def clustrix_executor_mode(func: Callable[..., Any], requested: str | None, sample: Sequence[Any]) -> str | None:
    """Choose ``"threads"`` or ``"processes"`` for the local parallel executor.

    The core's chain: an explicit choice wins; unpicklable work -> threads; work that
    looks I/O-bound -> threads; otherwise processes.
    """
