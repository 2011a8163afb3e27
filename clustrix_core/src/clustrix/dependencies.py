"""Pipelines: a :class:`~clustrix.ClusterFuture` passed as an argument is a dependency.

The calls are pickled with a pickler that writes each future (at any depth, inside any
object) as a *reference* ``("clustrix-result", parent_call_id, parent_remote_dir,
element, offset)`` instead of a value. The runner resolves a reference on the execution
host (``runner.ReferenceResolver``): it reads the parent call's outcome from the parent's
result file in the parent's job dir, checked with the parent's key, so a value made on
the cluster stays there. When the parent's job dir is not on the child's host (another
target) or was already cleaned up (the parent ended before the child was submitted), the
client puts the parent's outcome next to the child as ``dep.<parent_call_id>.pkl``,
re-signed with the child's key once the parent's own signature checked out.

A parent that failed makes each call taking its result fail with
:class:`~clustrix.errors.DependencyFailed` without running.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import pickle
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cloudpickle

from . import runner
from .errors import DependencyFailed, JobNotFound, ResultCorrupted, ResultForged
from .future import ClusterFuture
from .future_list import FutureList
from .hookspecs import hookimpl
from .job import JobStatus, State
from .outcome import RemoteError, job_key

if TYPE_CHECKING:
    from .job import Job
    from .store import Store
    from .target import Target

log = logging.getLogger("clustrix.dependencies")

Call = tuple[tuple[Any, ...], dict[str, Any]]
#: argument types that hold no future: passed over without a look (a million-call map's
#: arguments are mostly these)
_PLAIN = frozenset({int, float, complex, bool, str, bytes, type(None), range})


def futures_in(value: Any, depth: int = 0) -> list[ClusterFuture]:
    """The futures in ``value``, looked for in lists, tuples, dicts (keys and values) and
    the :class:`~clustrix.FutureList` a ``.map()`` returns."""
    if type(value) in _PLAIN:
        return []
    if isinstance(value, ClusterFuture):
        return [value]
    if depth >= 50:
        return []
    if isinstance(value, (list, tuple, FutureList)):
        items: Iterable[Any] = value
    elif isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    else:
        return []
    found: list[ClusterFuture] = []
    for item in items:
        if type(item) not in _PLAIN:
            found += futures_in(item, depth + 1)
    return found


def parents_of(calls: Sequence[Call]) -> list[ClusterFuture]:
    """Every future the calls take, once each, in order of appearance."""
    seen: dict[int, ClusterFuture] = {}
    for args, kwargs in calls:
        for value in (*args, *kwargs.values()) if kwargs else args:
            if type(value) not in _PLAIN:
                for future in futures_in(value, 3):
                    seen.setdefault(id(future), future)
    return list(seen.values())


def reference(future: ClusterFuture) -> tuple[str, str, str, int, int]:
    """What the runner resolves to ``future``'s value (see ``runner.ReferenceResolver``)."""
    job = future.job
    element = job.element_of(future.index)
    return (runner.REFERENCE, future.job_id, job.remote_dir, element, future.index - job.calls_of(element).start)


class _ReferencingPickler(cloudpickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, ClusterFuture):
            return reference(obj)
        return None


def dumps_calls(calls: Sequence[Call]) -> bytes:
    """cloudpickle of the calls, each future in them written as a reference."""
    buffer = io.BytesIO()
    _ReferencingPickler(buffer).dump(list(calls))
    return buffer.getvalue()


def _verified_entry(future: ClusterFuture) -> bytes:
    """The parent call's outcome pickle from its fetched result file, checked with its key;
    for a parent that failed, an error entry made from the exception its future holds."""
    job = future.job
    element = job.element_of(future.index)
    path = job.result_path(element)
    if future.exception() is None and not path.exists():
        future.result()  # a value left on its host (OnHost): it has to travel now, through here
    if path.exists() and future.exception() is None:  # the value, as the parent's runner wrote it
        data = path.read_bytes()
        header, _, body = data.partition(b"\n")
        parts = header.split(b" ")
        if len(parts) != 2 or parts[0] != runner.MAGIC:
            raise ResultCorrupted(f"{path} is not a Clustrix result file; it cannot be passed to a dependent job")
        if not hmac.compare_digest(runner.sign(job_key(path), body), parts[1]):
            raise ResultForged(f"{path} does not match its job's key; it is not passed to a dependent job")
        entries = runner._BytesOnly(io.BytesIO(body)).load()
        return bytes(entries[future.index - job.calls_of(element).start])
    exc = future.exception()
    type_name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    tb = "\n".join(getattr(exc, "__notes__", []))  # the remote traceback, when there was one
    return cloudpickle.dumps(("error", None, type_name, str(exc), tb))


def ship_finished(parents: Sequence[ClusterFuture], child: Job) -> None:
    """Write each ended parent's outcome into the child's job dir, signed with the child's key."""
    key = (child.local_dir / runner.KEY_FILE).read_bytes()
    for future in parents:
        if not future.done() or future.cancelled():
            continue
        if future.exception() is None and read_in_place(future.job, future.index, _target_key(child)):
            continue
        body = pickle.dumps([_verified_entry(future)], protocol=4)
        path = Path(runner.dependency_file(str(child.local_dir), future.job_id))
        path.write_bytes(runner.MAGIC + b" " + runner.sign(key, body) + b"\n" + body)
        path.chmod(0o600)


def prepare(calls: Sequence[Call], target: Target) -> tuple[list[ClusterFuture], bool]:
    """The parents of these calls, and whether the child must be held until they end.

    On a backend with scheduler dependencies, when every parent runs on the same target,
    the child is submitted at once and its scheduler holds it (``job.after``); otherwise
    it is recorded HELD and the watcher submits it once its parents have ended (see
    :func:`release`). So is a child of a parent with ``retries``: its next attempt is a
    new scheduler job, and the scheduler would kill a child waiting for the first one.
    A parent cancelled already is refused.
    """
    parents = parents_of(calls)
    cancelled = [f.job_id for f in parents if f.cancelled()]
    if cancelled:
        raise DependencyFailed(f"job {', '.join(cancelled)} it takes as an argument was cancelled")
    unfinished = [f for f in parents if not f.done()]
    schedulable = all(f.target is target and not f.job.settings.get("retries") for f in unfinished) and bool(
        scheduler_kinds(target)
    )
    return parents, bool(unfinished) and not schedulable


def scheduler_kinds(target: Target) -> Sequence[str]:
    """The dependencies the target's scheduler holds jobs for ("all", "elementwise")."""
    return target.hooks.clustrix_scheduler_dependencies(target=target) or ()


def attach(job: Job, calls: Sequence[Call], parents: Sequence[ClusterFuture], target: Target) -> None:
    """Link a recorded child to its parents, before it is staged.

    The link goes to the store first, so a parent's watcher that has not cleaned up yet
    keeps the parent's job dir for the child (see :func:`needed`); then each parent that
    has ended already has its outcome shipped next to the child, and the jobs of the
    others become the child's scheduler dependencies (``job.after``).
    """
    if not parents:
        return
    # only a parent of the same target is read in place (and cleaned up after the child)
    same = {id(f): f for f in parents if f.target is target}
    elementwise = "elementwise" in scheduler_kinds(target) and _elementwise(job, calls, same)
    kind = "elementwise" if elementwise else "all"
    target.store.add_dependencies(job.job_id, sorted({f.job.job_id for f in same.values()}), kind)
    waiting = {key: f for key, f in same.items() if not f.done()}
    ship_finished([f for f in parents if id(f) not in waiting], job)
    jobs: dict[str, Job] = {}
    for future in waiting.values():
        jobs.setdefault(future.job.job_id, future.job)
    job.after = list(jobs.values())
    job.after_elementwise = elementwise


def _elementwise(job: Job, calls: Sequence[Call], parents: dict[int, ClusterFuture]) -> bool:
    """Whether call i of the child takes only call i of its one parent job, packed and
    chunked alike, so that element i can wait for the parent's element i alone."""
    jobs = {f.job.job_id: f.job for f in parents.values()}
    if len(jobs) != 1 or job.n_elements < 2:
        return False
    parent = next(iter(jobs.values()))
    if (parent.n_calls, parent.tasks_per_element) != (job.n_calls, job.tasks_per_element):
        return False
    if parent.settings.get("array_workers") or job.settings.get("array_workers"):
        return False  # workers claim elements: task i does not run element i
    for i, call in enumerate(calls):
        for future in futures_in(call):
            if id(future) in parents and future.index != i:
                return False
    return True


def cancel_dependents(target: Target, job: Job, *, elementwise_too: bool) -> list[str]:
    """Cancel the jobs still waiting for ``job`` (a parent that was cancelled, or that lost a
    call without a result): their scheduler would hold them forever. A dependent that
    waits element by element is left to its scheduler unless ``elementwise_too``."""
    store, cancelled = target.store, []
    for row in store.dependents(job.job_id):
        if State(row["state"]).terminal or (row["kind"] == "elementwise" and not elementwise_too):
            continue
        try:
            child, _, _ = store.job(row["job_id"])
            if child.native_id:  # a HELD child was never submitted: released, it fails with DependencyFailed
                target.hooks.clustrix_cancel(jobs=[child], target=target)
        except Exception:
            log.warning("cancelling job %s, which waits for job %s, failed", row["job_id"], job.job_id, exc_info=True)
            continue
        cancelled.append(child.job_id)
        cancelled += cancel_dependents(target, child, elementwise_too=True)
    return cancelled


def release_stranded(target: Target, job: Job) -> None:
    """After ``job`` ended with a call that left no result (killed, cancelled, lost): cancel
    the jobs waiting for all of it, which their scheduler may hold forever (Slurm kills
    them itself: ``--kill-on-invalid-dep``)."""
    # an element whose values stayed on the host (values_staying) has its result there
    if any(not job.result_path(e).exists() and not job.summary_path(e).exists() for e in range(job.n_elements)):
        cancel_dependents(target, job, elementwise_too=False)


def waits_for(store: Store, job_id: str, state: str) -> list[str]:
    """The jobs a job not yet ended takes results of and that have not succeeded yet."""
    if State(state).terminal:
        return []
    waiting = []
    for parent_id in store.parents(job_id):
        try:
            parent_state = store.row(parent_id)["state"]
        except JobNotFound:
            continue
        if parent_state != State.COMPLETED.value:
            waiting.append(parent_id)
    return waiting


def hold(job: Job, parents: Sequence[ClusterFuture], target: Target) -> FutureList:
    """Record a packaged child HELD and have the watcher submit it when its parents ended."""
    same = sorted({f.job.job_id for f in parents if f.target is target})
    target.store.add_dependencies(job.job_id, same, "all")
    target.store.set_states({}, {job.job_id: State.HELD})  # its calls, without rows of their own, with it
    futures = FutureList(job, target)
    target.watcher.watch(job, futures, waiting=True)
    return futures


def _parent_calls(job: Job) -> list[str]:
    manifest = json.loads((job.local_dir / "manifest.json").read_text())
    return list(dict.fromkeys(p for e in manifest["elements"] for p in e.get("parents", [])))


def release(target: Target, job: Job) -> bool:
    """Submit a HELD job once every call it takes a result of has ended; True once submitted.

    Any process watching the job does it (the submitter, ``clustrix status``, ``attach``),
    so a pipeline goes on after its submitter died: a parent nobody watches here is
    attached to its own target's watcher. Each parent's outcome is checked with its key
    and written next to the child, signed with the child's key, before staging.
    """
    from . import lifecycle

    store = target.store
    outcomes: dict[str, bytes] = {}
    for call_id in _parent_calls(job):
        parent_id, index, state = store.call(call_id)
        parent, _, _ = store.job(parent_id)
        if not State(state).terminal:
            parent_target = lifecycle.target_for(parent.settings)
            if parent_id not in parent_target.watcher.watching():
                lifecycle.attach_job(parent)
            return False
        if state == State.COMPLETED.value and read_in_place(parent, index, target.key):
            continue
        outcomes[call_id] = _recorded_entry(parent, index, state)
    key = (job.local_dir / runner.KEY_FILE).read_bytes()
    for call_id, entry in outcomes.items():
        body = pickle.dumps([entry], protocol=4)
        path = Path(runner.dependency_file(str(job.local_dir), call_id))
        path.write_bytes(runner.MAGIC + b" " + runner.sign(key, body) + b"\n" + body)
        path.chmod(0o600)
    store.set_states({}, {job.job_id: State.SUBMITTING})  # a call cancelled meanwhile keeps its own row
    lifecycle.launch(job, target)
    return True


def _recorded_entry(parent: Job, index: int, state: str) -> bytes:
    """A parent call's outcome from its fetched result file, checked with its key; an error
    entry naming its state when it left none that can be used."""
    element = parent.element_of(index)
    path = parent.result_path(element)
    if path.exists():
        try:
            data = path.read_bytes()
            header, _, body = data.partition(b"\n")
            parts = header.split(b" ")
            if len(parts) == 2 and hmac.compare_digest(runner.sign(job_key(path), body), parts[1]):
                entries = runner._BytesOnly(io.BytesIO(body)).load()
                return bytes(entries[index - parent.calls_of(element).start])
        except Exception:
            log.warning("the result of job %s cannot be used", parent.call_id(index), exc_info=True)
    message = f"it ended {state} without a result this job can use"
    return cloudpickle.dumps(("error", None, "clustrix.errors.JobFailed", message, ""))


def needed(store: Store, job: Job) -> bool:
    """Whether a job that has not ended takes results of ``job`` (keep its job dir)."""
    return any(not State(row["state"]).terminal for row in store.dependents(job.job_id))


#: in a job dir here: some of the job's values were left on the execution host (values_staying)
ON_HOST_MARKER = "values-on-host"


def values_staying(target: Target, job: Job, ended: Sequence[int], status: JobStatus) -> set[int]:
    """The ended elements of ``job`` whose values stay on the execution host: every call of
    them succeeded (their signed summary says so) and a job takes them there. Only a job
    with dependents, run on another host: there, fetching its result would move every byte
    of it through this machine for nothing (a dependent reads it where it is), so its
    futures get :class:`~clustrix.future.OnHost` and ``result()`` fetches the value if it
    is ever asked. Anything unclear (no summary, one that does not verify) is fetched."""
    if str(job.local_dir) == job.remote_dir or not target.store.dependents(job.job_id):
        return set()
    staying: set[int] = set()
    for element in ended:
        if status.of(element) != State.COMPLETED:
            continue
        local = job.summary_path(element)
        try:
            if not target.transport.get(job.remote_summary(element), local):
                continue
            kinds = runner.read_summary(str(local), job_key(job.result_path(element)))
        except Exception:
            log.warning("the summary of job %s element %d cannot be read: fetching its result", job.job_id, element)
            continue
        if kinds == ["ok"] * len(job.calls_of(element)):
            staying.add(element)
    if staying:
        (job.local_dir / ON_HOST_MARKER).touch()
    return staying


def read_in_place(parent: Job, index: int, child_target: str) -> bool:
    """Whether a child on ``child_target`` reads the value of call ``index`` of ``parent``
    where it is: on the same target, a value left on the host (``values_staying``), whose
    job dir is kept for it. No dependency file then: not a byte through this machine."""
    return (
        _target_key(parent) == child_target
        and (parent.local_dir / ON_HOST_MARKER).exists()
        and not parent.result_path(parent.element_of(index)).exists()
    )


def _target_key(job: Job) -> str:
    from .target import target_key  # the target imports the plugins, whose defaults import this module

    return target_key(job.settings)


def values_on_host(job: Job) -> bool:
    """Whether values of ``job`` that were left on the host have not all been fetched: its
    job dir there is then kept (``clustrix clean`` removes it)."""
    if not (job.local_dir / ON_HOST_MARKER).exists():
        return False
    return any(not job.result_path(e).exists() for e in range(job.n_elements))


def clean_released_parents(target: Target, job: Job) -> None:
    """Once ``job`` ended: remove the job dirs of its parents that succeeded and that no
    job still needs (their own clean-up was deferred for their dependents)."""
    store = target.store
    for parent_id in store.parents(job.job_id):
        try:
            parent, _, state = store.job(parent_id)
        except JobNotFound:
            continue
        if (
            state != State.COMPLETED.value
            or parent.settings.get("keep_files")
            or needed(store, parent)
            or values_on_host(parent)
        ):
            continue
        try:
            target.hooks.clustrix_cleanup(job=parent, target=target)
        except Exception:
            log.warning("cleanup of job %s failed", parent_id, exc_info=True)


def dependency_error(text: str, tb: str, call_id: str) -> DependencyFailed:
    """The DependencyFailed the runner described (``runner.FailedDependency``), the parent's
    error as its cause."""
    try:
        info = json.loads(text)
        parent, type_name, message = str(info["parent"]), str(info["type"]), str(info["message"])
    except (ValueError, KeyError, TypeError):
        return DependencyFailed(text, job_id=call_id)
    cause = RemoteError(type_name, message)
    if tb:
        cause.add_note(f"Remote traceback (clustrix job {parent}):\n{tb.rstrip()}")
    err = DependencyFailed(f"job {parent} failed with {type_name}: {message}", job_id=call_id, parent_id=parent)
    err.__cause__ = cause
    return err


class DependencyReader:
    """A link of the error chain: a call that ended without a result while a call whose
    result it takes had not succeeded failed because of that call (Slurm kills such a
    job, the watcher cancels it elsewhere): :class:`~clustrix.errors.DependencyFailed`."""

    @hookimpl(tryfirst=True)
    def clustrix_extract_error(
        self, job: Job, target: Target, call_index: int, status: JobStatus, outcome: tuple[Any, ...] | None
    ) -> BaseException | None:
        if outcome is not None:
            return None
        try:
            manifest = json.loads((job.local_dir / "manifest.json").read_text())
            parents = manifest["elements"][job.element_of(call_index)].get("parents", [])
        except (OSError, ValueError, LookupError):
            return None
        for parent, state in [*_states(target.store, parents), *_held_by(target.store, job)]:
            if state != State.COMPLETED.value:
                return DependencyFailed(
                    f"job {parent}, whose result it waited for, did not succeed (its state: {state}), so this "
                    "call never ran; see that job's error (`clustrix result`)",
                    job_id=job.call_id(call_index),
                    parent_id=parent,
                )
        return None


def _states(store: Store, call_ids: Sequence[str]) -> list[tuple[str, str]]:
    """(call id, recorded state) of the calls the store knows."""
    found = []
    for call_id in call_ids:
        try:
            found.append((call_id, store.call(call_id)[2]))
        except JobNotFound:
            continue
    return found


def _held_by(store: Store, job: Job) -> list[tuple[str, str]]:
    """(call id, state) of every call of the jobs the scheduler held all of ``job`` for."""
    found = []
    for parent_id in store.parents(job.job_id):
        if any(r["job_id"] == job.job_id and r["kind"] == "all" for r in store.dependents(parent_id)):
            try:
                parent, _, _ = store.job(parent_id)
            except JobNotFound:
                continue
            states = store.call_states(parent_id)
            found += [(parent.call_id(i), state) for i, state in sorted(states.items())]
    return found
