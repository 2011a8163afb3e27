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

import concurrent.futures
import hmac
import io
import json
import pickle
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cloudpickle

from . import runner
from .errors import DependencyFailed, ResultCorrupted, ResultForged
from .future import ClusterFuture
from .outcome import RemoteError, job_key

if TYPE_CHECKING:
    from .job import Job
    from .target import Target

Call = tuple[tuple[Any, ...], dict[str, Any]]


def futures_in(value: Any, depth: int = 0) -> list[ClusterFuture]:
    """The futures in ``value``, looked for in lists, tuples and dicts (keys and values)."""
    if isinstance(value, ClusterFuture):
        return [value]
    if depth >= 50:
        return []
    if isinstance(value, (list, tuple)):
        items: Iterable[Any] = value
    elif isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    else:
        return []
    found: list[ClusterFuture] = []
    for item in items:
        found += futures_in(item, depth + 1)
    return found


def parents_of(calls: Sequence[Call]) -> list[ClusterFuture]:
    """Every future the calls take, once each, in order of appearance."""
    seen: dict[int, ClusterFuture] = {}
    for future in futures_in(list(calls)):
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


def wait_for(parents: Sequence[ClusterFuture]) -> None:
    """Block until every parent has ended (successfully or not)."""
    concurrent.futures.wait(parents)


def _verified_entry(future: ClusterFuture) -> bytes:
    """The parent call's outcome pickle from its fetched result file, checked with its key;
    for a parent that left no result, an error entry made from its exception."""
    job = future.job
    element = job.element_of(future.index)
    path = job.result_path(element)
    if path.exists():
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
    return cloudpickle.dumps(("error", None, type_name, str(exc), ""))


def ship_finished(parents: Sequence[ClusterFuture], child: Job) -> None:
    """Write each ended parent's outcome into the child's job dir, signed with the child's key."""
    key = (child.local_dir / runner.KEY_FILE).read_bytes()
    for future in parents:
        if not future.done() or future.cancelled():
            continue
        body = pickle.dumps([_verified_entry(future)], protocol=4)
        path = Path(runner.dependency_file(str(child.local_dir), future.job_id))
        path.write_bytes(runner.MAGIC + b" " + runner.sign(key, body) + b"\n" + body)
        path.chmod(0o600)


def prepare(calls: Sequence[Call], target: Target) -> list[ClusterFuture]:
    """The parents of these calls, once each have ended: cancelled ones refused.

    The child is submitted once its parents have ended (a scheduler dependency, when the
    backend has one, lets it go earlier; see :mod:`clustrix.batch`).
    """
    parents = parents_of(calls)
    wait_for(parents)
    cancelled = [f.job_id for f in parents if f.cancelled()]
    if cancelled:
        raise DependencyFailed(f"job {', '.join(cancelled)} it takes as an argument was cancelled")
    return parents


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
