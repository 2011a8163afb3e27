"""The life of a job, in order: resolve, package, record, environment, stage, submit, watch.

Return and clean-up happen in the target's watcher when the job ends. ``attach``
rebuilds futures for a job that another (maybe dead) process submitted.

What the job store keeps: a job is recorded (SUBMITTING) before staging, so a crash
cannot lose it. A configuration error found while staging or submitting (the backend
never saw the job) removes the record and the job directory: the call raised, nothing
ran, there is nothing to find later. Any other failure leaves the job recorded as FAILED,
or REJECTED with the scheduler's reason. If the store cannot record the native id of a
job the backend accepted, the job is cancelled and :class:`~clustrix.errors.StoreError`
says where it ran, so no job runs unknown to Clustrix.
"""

from __future__ import annotations

import contextlib
import math
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import config, dependencies
from .environment import captured_requirements, requirements_of
from .errors import ConfigError, PluginContractError, StoreError, SubmissionRejected
from .future import ClusterFuture
from .future_list import FutureList
from .job import Job, State, package
from .plugins import manager
from .store import make_private, open_store
from .target import RENDER_HOME, Target, clustrix_home, target_for
from .workdir import check_job

Call = tuple[tuple[Any, ...], dict[str, Any]]

#: without ``tasks_per_job``, a map becomes at most this many array elements
AUTO_MAX_ELEMENTS = 64
#: where tasks claim elements (batch schedulers): workers of a map without ``array_workers``
#: or ``max_concurrent``, and elements per worker: fine enough that long calls spread over
#: every worker, coarse enough that tiny calls run back to back in few processes
AUTO_WORKERS = 64
ELEMENTS_PER_WORKER = 2


def configure(**kwargs: Any) -> None:
    """Set process-wide defaults (below decorator keywords, above everything else).

    ``configure(reset=True)`` first clears what earlier calls set. Keys are checked
    against the core's and every plugin's settings.
    """
    reset = bool(kwargs.pop("reset", False))
    config.set_configured(kwargs, manager().settings(), reset=reset)


def resolve(overrides: Mapping[str, Any]) -> config.Resolved:
    """1. Resolve: every layer of configuration, validated, before anything is sent."""
    return config.resolve(overrides, manager().settings())


def packing(settings: Mapping[str, Any], n_calls: int, claims: bool, takes_results: bool = False) -> tuple[int, int]:
    """(calls per element, workers that claim the elements; 0: one task per element).

    Where tasks can claim elements (``claims``), a map becomes about ``ELEMENTS_PER_WORKER``
    elements per worker, and ``array_workers`` (default: ``max_concurrent``, else
    ``AUTO_WORKERS``) tasks take them one after another: the user need not guess how long
    a call takes. One task per element as before when ``tasks_per_job`` or ``retries`` is
    set (a retry reruns elements by task), for a map taking other calls' results (its
    elements wait for the parent's one by one), and for ``array_workers=0``.
    """
    explicit = settings.get("tasks_per_job")
    workers = settings.get("array_workers")
    if workers and settings.get("retries"):
        raise ConfigError(
            f"array_workers={workers} with retries={settings.get('retries')}: a retry resubmits failed elements "
            "one task each; set array_workers=0 (one task per element), or drop retries"
        )
    static = workers is None and bool(explicit or settings.get("retries") or takes_results)
    if not claims or workers == 0 or static:
        return (int(explicit) if explicit else max(1, math.ceil(n_calls / AUTO_MAX_ELEMENTS))), 0
    workers = int(workers or settings.get("max_concurrent") or AUTO_WORKERS)
    per = int(explicit) if explicit else max(1, math.ceil(n_calls / (workers * ELEMENTS_PER_WORKER)))
    return per, workers if workers < math.ceil(n_calls / per) else 0


def _packed(settings: dict[str, Any], n_calls: int, target: Target, takes_results: bool = False) -> int:
    """Calls per element; records the workers in ``settings`` (the job's, stored with it)."""
    claims = bool(target.hooks.clustrix_claims_elements(target=target))
    per, workers = packing(settings, n_calls, claims, takes_results)
    if claims:
        settings["array_workers"] = workers
    return per


def submit(func: Callable[..., Any], calls: Sequence[Call], overrides: Mapping[str, Any]) -> FutureList:
    settings = dict(resolve(overrides).values)  # 1. resolve
    target = target_for(settings)
    store = target.store  # opened first: it makes the home private before anything is written there
    if not target.is_local and settings.get("capture_requirements"):
        # what the environment step will replicate on the host: named and imported packages
        wanted = requirements_of(settings) + captured_requirements(func)
        settings["requirements"] = sorted(set(wanted))
    parents, held = dependencies.prepare(calls, target)  # futures passed as arguments: their jobs come first
    per = _packed(settings, len(calls), target, bool(parents))
    job = package(  # 2. package: pickled and checked here, so bad input fails before sending
        func,
        calls,
        backend=target.backend,
        settings=settings,
        home=target.home,
        remote_work_dir=target.remote_work_dir,
        tasks_per_element=per,
    )
    make_private([job.local_dir, *(target.home / "blobs" / b for b in target.blobs_needed(job))])
    store.record(job, target.key)  # 3. recorded before anything can be lost
    if held:  # the watcher submits it once its parents have ended (see clustrix.dependencies)
        return dependencies.hold(job, parents, target)
    try:
        dependencies.attach(job, calls, parents, target)  # what the scheduler holds the job for
    except BaseException:
        store.set_job_state(job.job_id, State.FAILED)
        raise
    launch(job, target)
    futures = FutureList(job, target)  # each future made when asked for: a million calls cost one list
    target.watcher.watch(job, futures)  # 7. watch; return and clean up follow there
    return futures


def launch(job: Job, target: Target) -> None:
    """Steps 4 to 6 for a recorded job: environment, stage, submit, native id recorded."""
    store = target.store
    try:
        check_job(job, target)  # a work dir other users can change is refused before anything goes there
        target.hooks.clustrix_prepare_environment(job=job, target=target)  # 4. environment
        target.hooks.clustrix_stage(job=job, target=target)  # 5. stage
        native_id = target.hooks.clustrix_submit(job=job, target=target)  # 6. submit
        if native_id is None:
            raise PluginContractError(
                f"backend {target.backend!r} returned no id from clustrix_submit (see clustrix.hookspecs)"
            )
    except ConfigError:
        _forget(target, job)  # refused before the backend saw it: nothing to find later
        raise
    except BaseException as exc:
        state = State.REJECTED if isinstance(exc, SubmissionRejected) else State.FAILED
        store.set_job_state(job.job_id, state)
        raise
    job.native_id = str(native_id)
    try:
        store.set_native_id(job.job_id, job.native_id, job.attempt)
    except Exception as exc:
        raise _unrecorded(target, job, exc) from exc


def _forget(target: Target, job: Job) -> None:
    """Remove every trace of a job that a configuration error stopped before submission."""
    with contextlib.suppress(Exception):
        target.store.delete([job.job_id])
    with contextlib.suppress(Exception):
        if str(job.local_dir) != job.remote_dir:
            target.hooks.clustrix_cleanup(job=job, target=target)
    shutil.rmtree(job.local_dir, ignore_errors=True)


def _unrecorded(target: Target, job: Job, cause: Exception) -> StoreError:
    """The backend runs the job but the store could not record its id: cancel it rather
    than leave it running unknown to every Clustrix command, and say what happened."""
    where = f"{target.backend} id {job.native_id} on {target.settings.get('cluster_host') or 'this machine'}"
    try:
        target.hooks.clustrix_cancel(jobs=[job], target=target)
    except Exception as exc:
        fate = (
            f"Cancelling it failed too ({type(exc).__name__}: {exc}), so it may still run: cancel it with "
            f"the scheduler's own command; its files are in {job.remote_dir}."
        )
    else:
        fate = "It was cancelled, so nothing runs unrecorded; submit again once the store can be written."
        with contextlib.suppress(Exception):
            target.store.set_job_state(job.job_id, State.CANCELLED)
    return StoreError(
        f"job {job.job_id} was submitted ({where}) but the job store {target.store.path} could not record "
        f"it ({type(cause).__name__}: {cause}). {fate}"
    )


def render(
    func: Callable[..., Any], calls: Sequence[Call], overrides: Mapping[str, Any], home: Path
) -> tuple[Job, str | None]:
    """Package these calls in ``home`` and return the job with the script its backend would
    submit (None for a backend without scripts); nothing is submitted, no host contacted.

    The script comes from the same code as at submission (configuration checks, the
    backend's directive and path checks), so what render refuses, submit refuses, and the
    reverse. A remote home directory, not asked for, is shown as ``$HOME``.
    """
    settings = dict(resolve(overrides).values)
    target = Target(settings, dry_run=True)  # BackendNotInstalled here names the package to install
    per = _packed(settings, len(calls), target)
    job = package(
        func,
        calls,
        backend=target.backend,
        settings=settings,
        home=home,
        remote_work_dir=target.remote_work_dir,
        tasks_per_element=per,
    )
    script = target.hooks.clustrix_render(job=job, target=target)
    return job, None if script is None else script.replace(RENDER_HOME, "$HOME")


def attach(job_id: str, *, home: str | None = None) -> ClusterFuture:
    """A future for a job submitted by any process, found in the job store by its id."""
    store = open_store(clustrix_home({"home": home}))
    parent_id, index, _ = store.call(job_id)
    job, _, _ = store.job(parent_id)
    return attach_job(job)[index]


def attach_job(job: Job) -> FutureList:
    """Futures for every call of a recorded job, watched by its target's watcher (a job
    between two attempts is followed to the next one: ``clustrix.retry.follow``)."""
    target = target_for(job.settings)
    futures = FutureList(job, target)
    target.watcher.watch(job, futures)
    return futures
