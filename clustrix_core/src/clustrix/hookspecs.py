# mypy: disable-error-code="empty-body"
"""The hooks a Clustrix plugin implements: the manual a backend author reads.

Import everything from :mod:`clustrix.plugin`; decorate each implementation with
``@hookimpl``. A *backend* is a plugin registered under its backend name through the
entry-point group ``clustrix`` (``slurm = "clustrix_slurm:plugin"``) that implements
``clustrix_submit``; it must also implement every hook of :data:`REQUIRED_HOOKS`, or it
is refused when plugins load (``clustrix plugins`` lists it as a load failure naming the
hook). A batch scheduler (SLURM-like) subclasses :class:`~clustrix.batch.BatchScheduler`
instead, which implements the hooks once and asks for directives and parsers.

Dispatch: for one job, the core calls only the configured backend's implementations,
plus every non-backend plugin (the core's defaults, a hookwrapper auditing submits), so
no hook asks "is this job mine?".

Arguments every hook receives:

- ``job``: a :class:`~clustrix.job.Job`. ``job.local_dir`` holds the packaged payload;
  ``job.remote_dir`` is where it runs, and its paths come from the layout helpers
  (``job.remote_result(e)``, ``job.remote_log(e, "err")``, ``job.remote_status(name)``,
  ``job.remote_file(name)``), never spelled by hand. ``job.settings`` are the job's
  resolved settings; ``job.native_id`` is what ``clustrix_submit`` returned.
- ``target``: a :class:`~clustrix.target.Target`: where jobs run (``target.settings``),
  ``target.transport`` to run commands and move files there, ``target.dry_run`` while
  rendering (ask the host nothing).

*firstresult* hooks stop at the first non-``None`` answer: returning ``None`` means
"not me, ask the next one" (a backend's answer comes before the core's defaults, which
are registered ``trylast``). A hook raising is never silently dropped: what the caller
does with the exception is written under each hook.

Threads: ``clustrix_submit``, ``clustrix_stage`` and ``clustrix_render`` run in the
thread that submits (for a job held until the jobs whose results it takes have ended:
in the watcher thread that releases it); ``clustrix_status``, ``clustrix_fetch``, ``clustrix_extract_error``
and ``clustrix_cleanup`` in the target's watcher thread (one per target); cancel in the
thread calling ``Future.cancel()`` or the ``clustrix cancel`` command. Several targets
mean several watcher threads, so a plugin's own state is shared between threads: guard
it with a lock, and keep nothing there that another process would need to judge a job
(a job re-attached by ``clustrix status`` in another process must get the same answer):
derive it from the ``job`` instead.
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
    """Configuration keys this plugin reads (e.g. ``partition``, ``qsub``, ``pbs_flavor``).

    :return: the ``Setting`` of each key, with ``plugin`` set to the
        plugin's module; every plugin's keys are accepted in ``configure()``, decorators,
        ``CLUSTRIX_*`` env vars and config files, and shown by ``clustrix config keys``.

    Not firstresult: every plugin answers. Optional. Called when settings are resolved,
    from any thread. Raising makes every configuration lookup fail: keep it a constant.
    """


@hookspec(firstresult=True)
def clustrix_prepare_environment(job: Job, target: Target) -> str | None:
    """The environment step: make sure a Python that can run this job exists where it runs.

    :return: the interpreter the job's scripts name. The core's default (``trylast``) is
        :meth:`Target.prepare_environment`: this interpreter (or ``python=``, whose
        cloudpickle must match the client's major.minor) locally; on a remote host the
        configured one, or a venv built from ``requirements`` and cached by their hash
        (minutes, the first time). A backend whose workers make their own environment
        (Kubernetes: the pod's bootstrap installs the client's cloudpickle) answers
        first, without probing anything.

    Optional. Called once per job in the submitting thread, after the work-dir check and
    before ``clustrix_stage``. Raising (``RemoteEnvironmentError``, naming both versions
    and the fix) refuses the job before anything is submitted; it is recorded as FAILED.
    """


@hookspec(firstresult=True)
def clustrix_stage(job: Job, target: Target) -> bool | None:
    """Put the packaged job where it will run, before ``clustrix_submit``.

    :return: ``True`` when the job is staged and nobody else needs to act; ``None`` to let
        the next implementation run as well. The core's default (``trylast``) copies the
        job directory and its payload blobs with ``target.transport``, so a backend
        returning ``None`` after writing extra files into ``job.local_dir`` (a batch
        scheduler writes its job scripts) gets those copied too; a backend without a
        filesystem (Kubernetes) stages its own way and returns ``True``.

    Optional. Called once per job in the submitting thread, after the job is recorded
    in the job store. Raising fails the submission: the exception reaches the caller of
    ``submit`` and the job is recorded as FAILED (``ConfigError``: forgotten entirely).
    """


@hookspec(firstresult=True)
def clustrix_render(job: Job, target: Target) -> str | None:
    """The job script this backend would submit, without submitting (``clustrix render``).

    :return: the script text; ``None`` when the backend has no script (the local backend).

    Optional. Called with ``target.dry_run`` set: ask the host nothing. Runs in the
    caller's thread; an exception (e.g. ``ConfigError`` for a value the script cannot
    carry) reaches the caller, as it would at submission.
    """


@hookspec(firstresult=True)
def clustrix_submit(job: Job, target: Target) -> str | None:
    """Start the staged job and return its native id (scheduler id, pid, Job name).

    :return: the id, recorded as ``job.native_id`` in the job store and handed back in
        every later hook; a backend returning ``None`` fails the submission.

    **Required** (implementing it is what makes a plugin a backend). Called once per job
    in the submitting thread, after ``clustrix_stage``. Must not return before the
    scheduler knows the job. Raise ``SubmissionRejected`` with the
    scheduler's message when it refuses: the exception reaches the caller of ``submit``
    and the job is recorded as REJECTED (any other exception: FAILED). A hookwrapper
    (``@hookimpl(wrapper=True)``) sees every submission of every backend.
    """


@hookspec(firstresult=True)
def clustrix_scheduler_dependencies(target: Target) -> Sequence[str] | None:
    """The dependencies the backend's scheduler can hold a job for, until other jobs of the
    same target succeeded (Slurm ``--dependency``, PBS ``-W depend``, SGE ``-hold_jid``).

    :return: the kinds ``clustrix_submit`` honours through ``job.after`` (the jobs that
        must succeed first): "all" (every element of each) and, optionally,
        "elementwise" (``job.after_elementwise``: element i waits for element i of the one
        job in ``job.after``) and "ended" (every task of each has ended, whatever its exit:
        the batch engine asks it for parents whose workers claim elements). ``None`` (not
        implemented): the core submits a job whose arguments are futures only once their
        jobs have ended.

    Optional; :class:`~clustrix.batch.BatchScheduler` answers for its plugins from their
    ``dependency_kinds``. Called in the submitting thread; must not contact the host.
    """


@hookspec(firstresult=True)
def clustrix_claims_elements(target: Target) -> bool | None:
    """Whether the backend's tasks can be *workers* that claim a job's elements one after
    another (``runner.py JOBDIR --worker W``, see ``clustrix.runner``).

    :return: True: a map with no ``tasks_per_job`` is cut into more elements than it has
        workers (``clustrix.lifecycle.packing``), and ``job.settings["array_workers"]``
        says how many tasks to launch (0: one per element, as before). ``None`` (not
        implemented): one task per element, at most 64 elements by default.

    Optional; :class:`~clustrix.batch.BatchScheduler` answers True for its plugins.
    Called in the submitting thread; must not contact the host.
    """


@hookspec(firstresult=True)
def clustrix_status(jobs: Sequence[Job], target: Target) -> dict[str, JobStatus] | None:
    """Batched status: the state of many jobs of one target, in one scheduler call.

    :param jobs: every outstanding job of ``target`` (all submitted by this backend).
    :return: ``{job.job_id: JobStatus}``. A job missing from the answer is still running
        as far as the backend knows. ``JobStatus.elements`` gives each array element's
        state where the backend knows it; ``JobStatus.state`` stands for the elements it
        leaves out. An element in a terminal state ends its calls: their results are
        fetched and their futures settled.

    **Required**. Called once per poll cycle by the target's watcher thread (also by
    ``clustrix status`` and the conformance kit). Raising skips the cycle; after
    ``status_failures`` cycles in a row that raised (default 10), the futures of the
    jobs asked about fail with ``StatusUnavailable`` carrying the
    error, rather than wait forever.
    """


@hookspec(firstresult=True)
def clustrix_fetch(job: Job, target: Target, elements: Sequence[int]) -> bool | None:
    """Bring the result files of finished ``elements`` to ``job.result_path(e)``.

    :return: ``True`` when done; ``None`` to leave it to the core's default (``trylast``),
        which copies ``job.remote_result(e)`` with ``target.transport``.

    Optional. Called by the watcher thread when elements end. Raising leaves these
    elements open: the fetch is retried next cycle, other jobs go on.
    """


@hookspec(firstresult=True)
def clustrix_extract_error(
    job: Job, target: Target, call_index: int, status: JobStatus, outcome: tuple[Any, ...] | None
) -> BaseException | None:
    """The exception to raise for a call that did not return a value.

    :param call_index: the call, within the job (``job.element_of(call_index)`` is its element).
    :param status: the job's last status (``status.of(element)`` its element's state).
    :param outcome: the call's entry in the element's result file, or ``None`` when the
        element wrote none (killed, timed out, lost).
    :return: the exception the call's future raises; ``None`` to pass to the next link.

    A chain ordered by pluggy: the core's reader of the pickled remote exception runs
    first (``tryfirst``), a backend's log reader is the fallback (e.g. "DUE TO TIME LIMIT"
    in Slurm's stderr, read from ``job.remote_log(element)``; build the answer with
    ``typed_failure``), and a generic answer last: a typed failure
    from ``status`` with the stderr tail, or "no error information". Optional. Called
    by the watcher thread; raising fails the call with a ``ClustrixError`` that says the
    error could not be read, chained to yours.
    """


@hookspec(firstresult=True)
def clustrix_cancel(jobs: Sequence[Job], target: Target) -> bool | None:
    """Cancel these jobs wherever they run (one scheduler command where possible).

    :return: ``True`` once asked. A job that ended meanwhile is not an error: the next
        status poll reports its final state.

    **Required**. Called in the thread that cancels (``Future.cancel()`` once every call
    of the job is cancelled or done, ``clustrix cancel``, a failed submission's clean-up).
    Raising reaches that caller.
    """


@hookspec(firstresult=True)
def clustrix_resource_limits(job: Job, target: Target) -> dict[str, int] | None:
    """The largest resources a job like this one may ask for where it runs (its partition or queue).

    :return: ``{"memory": bytes, "time": seconds}``, either key left out when unknown or
        unlimited; ``None`` when the scheduler cannot tell. A retry that escalates
        ``memory`` or ``time`` (``escalate=``, see ``clustrix.retry``) never asks for
        more than these.

    Optional. Called by the watcher thread before a job is submitted again. Raising is
    logged and the escalation goes on uncapped (the scheduler then refuses what it
    cannot give, and the calls fail with its reason).
    """


@hookspec(firstresult=True)
def clustrix_cleanup(job: Job, target: Target) -> bool | None:
    """Remove the job's remote files after its results have been read.

    :return: ``True`` when done; ``None`` to leave it to the core's default (``trylast``),
        which removes ``job.remote_dir`` with ``target.transport``.

    Optional. Called by the watcher thread once every call of the job succeeded (unless
    ``keep_files``), and by ``clustrix clean``. Raising is logged; the files stay.
    """


@hookspec
def clustrix_doctor_checks(target: Target) -> Sequence[tuple[str, Callable[[], str]]]:
    """Checks ``clustrix doctor`` runs for this target after the core's (configuration,
    host, authentication, Python, work directory), e.g. "scheduler commands present".

    :return: ``(name, check)`` pairs. ``check()`` runs commands through
        ``target.transport`` and returns one line saying what it found, or raises
        ``CheckFailed(detail, fix)`` (from ``clustrix.plugin``): the doctor prints both and
        stops there.

    Not firstresult: the target's backend and every non-backend plugin may add checks.
    Optional (``BatchScheduler`` checks its configurable commands). Called in the thread
    running ``clustrix doctor``; any other exception from a check is a bug and propagates.
    """


@hookspec(firstresult=True)
def clustrix_executor_mode(func: Callable[..., Any], requested: str | None, sample: Sequence[Any]) -> str | None:
    """Choose ``"threads"`` or ``"processes"`` for the local parallel executor.

    :param requested: the user's explicit choice, if any.
    :param sample: the first items of the iterable, to test picklability.
    :return: the mode, or ``None`` to ask the next link.

    Not a backend hook: every plugin may take part. The core's chain: an explicit choice
    wins (``tryfirst``); unpicklable work -> threads; work that looks I/O-bound ->
    threads; otherwise processes (``trylast``). Called in the thread that maps; raising
    reaches it.
    """
