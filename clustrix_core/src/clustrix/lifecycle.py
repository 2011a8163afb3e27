"""The life of a job, in order: resolve, package, record, stage, submit, watch.

Return and clean-up happen in the target's watcher when the job ends. ``attach``
rebuilds futures for a job that another (maybe dead) process submitted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import config
from .environment import captured_requirements, requirements_of
from .errors import SubmissionRejected
from .future import ClusterFuture
from .job import Job, State, package
from .plugins import manager
from .store import open_store
from .target import Target, clustrix_home, target_for

Call = tuple[tuple[Any, ...], dict[str, Any]]

#: without ``tasks_per_job``, a map becomes at most this many array elements
AUTO_MAX_ELEMENTS = 64


def resolve(overrides: Mapping[str, Any]) -> config.Resolved:
    """1. Resolve: every layer of configuration, validated, before anything is sent."""
    return config.resolve(overrides, manager().settings())


def tasks_per_element(settings: Mapping[str, Any], n_calls: int) -> int:
    explicit = settings.get("tasks_per_job")
    if explicit:
        return int(explicit)
    return max(1, math.ceil(n_calls / AUTO_MAX_ELEMENTS))


def submit(func: Callable[..., Any], calls: Sequence[Call], overrides: Mapping[str, Any]) -> list[ClusterFuture]:
    settings = dict(resolve(overrides).values)  # 1. resolve
    target = target_for(settings)
    if not target.is_local and settings.get("capture_requirements"):
        # what the environment step will replicate on the host: named and imported packages
        wanted = requirements_of(settings) + captured_requirements(func)
        settings["requirements"] = sorted(set(wanted))
    job = package(  # 2. package: pickled and checked here, so bad input fails before sending
        func,
        calls,
        backend=target.backend,
        settings=settings,
        home=target.home,
        remote_work_dir=target.remote_work_dir,
        tasks_per_element=tasks_per_element(settings, len(calls)),
    )
    target.store.record(job, target.key)  # 3. recorded before anything can be lost
    try:
        target.hooks.clustrix_stage(job=job, target=target)  # 4. stage (+ environment)
        native_id = target.hooks.clustrix_submit(job=job, target=target)  # 5. submit
        if native_id is None:
            raise RuntimeError(f"backend {target.backend!r} returned no id from clustrix_submit")
    except BaseException as exc:
        state = State.REJECTED if isinstance(exc, SubmissionRejected) else State.FAILED
        target.store.set_states({job.call_id(i): state for i in range(job.n_calls)}, {job.job_id: state})
        raise
    job.native_id = str(native_id)
    target.store.set_native_id(job.job_id, job.native_id)
    futures = [ClusterFuture(job, i, target) for i in range(job.n_calls)]
    target.watcher.watch(job, futures)  # 6. watch; 7. return and 8. clean up follow there
    return futures


def render(
    func: Callable[..., Any], calls: Sequence[Call], overrides: Mapping[str, Any], home: Path
) -> tuple[Job, str | None]:
    """Package these calls in ``home`` and return the job with the script its backend would
    submit (None for a backend without scripts); nothing is submitted, no host contacted."""
    settings = dict(resolve(overrides).values)
    target = Target(settings, dry_run=True)  # BackendNotInstalled here names the package to install
    job = package(
        func,
        calls,
        backend=target.backend,
        settings=settings,
        home=home,
        remote_work_dir=target.remote_work_dir,
        tasks_per_element=tasks_per_element(settings, len(calls)),
    )
    return job, target.hooks.clustrix_render(job=job, target=target)


def attach(job_id: str, *, home: str | None = None) -> ClusterFuture:
    """A future for a job submitted by any process, found in the job store by its id."""
    store = open_store(clustrix_home({"home": home}))
    parent_id, index, _ = store.call(job_id)
    job, _, _ = store.job(parent_id)
    return attach_job(job)[index]


def attach_job(job: Job) -> list[ClusterFuture]:
    """Futures for every call of a recorded job, watched by its target's watcher."""
    target = target_for(job.settings)
    futures = [ClusterFuture(job, i, target) for i in range(job.n_calls)]
    target.watcher.watch(job, futures)
    return futures
