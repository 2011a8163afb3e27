"""A job: what is submitted to a backend, and how it is packaged on disk.

A job runs one or many *calls* of one function. Its calls are split into
``n_elements`` array elements of at most ``tasks_per_element`` calls each; one element
is what a scheduler launches (one array task, one process, one pod). Each call has its
own future and its own id: the job id for a single call, ``JOBID.i`` within a map.

On disk (the same layout locally and on the execution host)::

    WORK/blobs/SHA256             content-addressed payloads (function, element args)
    WORK/jobs/JOBID/manifest.json which blobs, which calls per element
    WORK/jobs/JOBID/runner.py     the runner (stdlib + cloudpickle only)
    WORK/jobs/JOBID/key           the job's secret (0600): the runner signs results with it
    WORK/jobs/JOBID/results/E.pkl result or error of every call of element E
    WORK/jobs/JOBID/results/E.attempt-K.pkl  the same of attempt K, set aside to retry E
    WORK/jobs/JOBID/logs/E.out|err stdout/stderr of element E
    WORK/jobs/JOBID/claims/E, E.W  element E taken by worker W (batch jobs packed for claiming)
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import os
import secrets
import shutil
import sys
import sysconfig
import time
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cloudpickle

from . import runner
from .errors import PicklingError

#: subdirectories of every job dir, local and remote
JOB_SUBDIRS = ("results", "logs", "status")


class State(enum.StrEnum):
    """Where a job or one of its elements is; the terminal ones end a future."""

    SUBMITTING = "SUBMITTING"
    HELD = "HELD"  # packaged, submitted by a watcher once the jobs it takes results of ended
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"  # exited 0: results/E.pkl says whether each call returned or raised
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    NODE_FAIL = "NODE_FAIL"
    PREEMPTED = "PREEMPTED"
    REJECTED = "REJECTED"
    LOST = "LOST"  # the backend no longer knows the job and it left no result

    @property
    def terminal(self) -> bool:
        return self not in (State.SUBMITTING, State.HELD, State.PENDING, State.RUNNING)


@dataclass
class JobStatus:
    """A backend's answer about one job (from ``clustrix_status``).

    ``elements`` maps an array element to its state where the backend knows it; ``state``
    is the job's overall state and stands for every element ``elements`` leaves out, so a
    backend that knows only the whole job answers ``JobStatus(state)``. Read an element's
    state with :meth:`of`. ``reason`` is shown to the user with a failure (e.g. SGE's
    error reason, "the scheduler no longer lists job 42").
    """

    state: State
    elements: dict[int, State] = field(default_factory=dict)
    reason: str = ""

    def of(self, element: int) -> State:
        """The state of ``element``: its own if known, else the job's."""
        return self.elements.get(element, self.state)

    @classmethod
    def of_process(
        cls,
        job: Job,
        alive: bool,
        *,
        finished: Container[int],
        started: Container[int],
        ended: State,
        reason: str = "",
        element_ended: Container[int] = (),
        still_writing: Callable[[int], bool] = lambda element: False,
    ) -> JobStatus:
        """The status of a job run by one process that leaves files behind (the local and
        SSH backends), from the elements that have their result file (``finished``), that
        ``started`` and that ended alone (``element_ended``): a finished element is
        COMPLETED; while the process lives and the element has not ended, RUNNING once
        started, else PENDING; then RUNNING while ``still_writing(element)`` its logs; else
        ``ended``, with ``reason`` once the process is gone."""
        elements = {}
        for e in range(job.n_elements):
            if e in finished:
                elements[e] = State.COMPLETED
            elif alive and e not in element_ended:
                elements[e] = State.RUNNING if e in started else State.PENDING
            else:
                elements[e] = State.RUNNING if still_writing(e) else ended
        return cls(State.RUNNING if alive else State.COMPLETED, elements, "" if alive else reason)


@dataclass
class Job:
    """One submission: ``n_calls`` calls of one function, run as ``n_elements`` elements.

    Every hook receives it. ``job_id`` is Clustrix's id (the store's key, in every remote
    path); ``native_id`` is what the backend's ``clustrix_submit`` returned (None until
    then). ``settings`` are the job's resolved settings (a backend reads its own keys
    there). ``local_dir`` is the packaged job on this machine, ``remote_dir`` the same
    directory on the execution host (equal when the job runs here); spell no path under
    it: ask the layout helpers below (``remote_result``, ``remote_log``, ...). Calls are
    numbered ``0 .. n_calls-1``; element ``e`` runs :meth:`calls_of` ``(e)``.
    ``attempt`` counts submissions of the job (1, then one more per retry, see
    ``clustrix.retry``); ``native_id`` and ``settings`` are the current attempt's.
    """

    job_id: str
    function: str
    backend: str
    settings: dict[str, Any]
    local_dir: Path
    remote_dir: str
    n_calls: int
    tasks_per_element: int
    native_id: str | None = None
    created: float = field(default_factory=time.time)
    attempt: int = 1
    #: jobs of the same target this one waits for (its arguments hold their futures); set
    #: at submission for a backend with scheduler dependencies, see clustrix.dependencies
    after: list[Job] = field(default_factory=list)
    #: element i waits only for element i of the one job in ``after`` (same packing)
    after_elementwise: bool = False

    @property
    def n_elements(self) -> int:
        """Array elements: what the scheduler launches (one task, process or pod each)."""
        return math.ceil(self.n_calls / self.tasks_per_element)

    @property
    def is_array(self) -> bool:
        return self.n_calls > 1

    def call_id(self, index: int) -> str:
        """The id a call's future and the store use: ``JOBID`` alone, ``JOBID.i`` in a map."""
        return f"{self.job_id}.{index}" if self.is_array else self.job_id

    def calls_of(self, element: int) -> range:
        """The call indexes ``element`` runs, in a row."""
        start = element * self.tasks_per_element
        return range(start, min(start + self.tasks_per_element, self.n_calls))

    def element_of(self, call_index: int) -> int:
        """The element that runs call ``call_index``."""
        return call_index // self.tasks_per_element

    # --- the job's layout: the one place its paths are spelled (see the module docstring) ---

    @property
    def remote_work_dir(self) -> str:
        """The work dir holding ``jobs/`` and ``blobs/`` on the execution host."""
        return str(Path(self.remote_dir).parent.parent)

    @property
    def remote_blobs_dir(self) -> str:
        """Content-addressed payloads, shared by the jobs of one work dir."""
        return f"{self.remote_work_dir}/blobs"

    def remote_subdirs(self) -> list[str]:
        """The directories staging creates in the remote job dir: results, logs, status."""
        return [f"{self.remote_dir}/{sub}" for sub in JOB_SUBDIRS]

    @property
    def remote_results_dir(self) -> str:
        return f"{self.remote_dir}/results"

    @property
    def remote_claims_dir(self) -> str:
        """Where the workers of a job packed for claiming take elements (``E``, ``E.WORKER``)."""
        return f"{self.remote_dir}/claims"

    @property
    def remote_logs_dir(self) -> str:
        """Where the elements' stdout/stderr go; a scheduler's own log files go here too."""
        return f"{self.remote_dir}/logs"

    @property
    def remote_status_dir(self) -> str:
        """Marker files of the runner and of backends (started, ended, pid, cancelled, ...)."""
        return f"{self.remote_dir}/status"

    def remote_result(self, element: int) -> str:
        """The result file of ``element`` on the execution host (written by the runner)."""
        return f"{self.remote_results_dir}/{element}.pkl"

    def remote_summary(self, element: int) -> str:
        """The signed list of what each call of ``element`` gave ("ok", "error"), next to its result."""
        return f"{self.remote_results_dir}/{element}.summary"

    def remote_log(self, element: int | str, stream: str = "err") -> str:
        """stdout (``stream="out"``) or stderr of ``element`` on the execution host."""
        return f"{self.remote_logs_dir}/{element}.{stream}"

    def remote_status(self, name: str) -> str:
        """A marker file in the job's status dir (``E.started``, ``pid``, ``cancelled``)."""
        return f"{self.remote_status_dir}/{name}"

    def remote_file(self, name: str) -> str:
        """A file at the top of the remote job dir: ``runner.py``, ``key``, a job script."""
        return f"{self.remote_dir}/{name}"

    def result_path(self, element: int) -> Path:
        """Where the result file of ``element`` is read locally (fetched, or written here)."""
        return self.local_dir / "results" / f"{element}.pkl"

    @staticmethod
    def set_aside_name(element: int, attempt: int) -> str:
        """The name a retried element's result file of ``attempt`` is moved to, in ``results/``."""
        return f"{element}.attempt-{attempt}.pkl"

    def summary_path(self, element: int) -> Path:
        """Where the summary of ``element`` is read locally (see ``remote_summary``)."""
        return self.local_dir / "results" / f"{element}.summary"

    def log_path(self, element: int, stream: str = "err") -> Path:
        """stdout/stderr of ``element`` in the local job dir (where the job ran here)."""
        return self.local_dir / "logs" / f"{element}.{stream}"


def new_job_id() -> str:
    """Short, sortable by time, unique across processes: 'c' + time + random."""
    return f"c{int(time.time() * 1000):x}{secrets.token_hex(3)}"


def _dumps_checked(obj: Any, what: str) -> bytes:
    try:
        return cloudpickle.dumps(obj)
    except Exception as exc:
        raise PicklingError(f"{what} cannot be pickled: {type(exc).__name__}: {exc}") from exc


def _installed(path: str) -> bool:
    roots = {sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return any(path.startswith(r + os.sep) for r in roots if r) or "site-packages" in path or "dist-packages" in path


def send_module_by_value(func: Callable[..., Any]) -> None:
    """Pickle the function's module by value unless it is installed (stdlib, site-packages).

    The execution host has the installed packages (or builds them, see environment), but
    not the user's scripts and project modules, so those travel with the function.
    """
    name = getattr(func, "__module__", None)
    module = sys.modules.get(name or "")
    path = getattr(module, "__file__", None)
    if module is None or name == "__main__" or not path or _installed(os.path.abspath(path)):
        return
    cloudpickle.register_pickle_by_value(module)


def dumps_function(func: Callable[..., Any]) -> bytes:
    """Pickle the function; on failure, name the global or closure value at fault."""
    send_module_by_value(func)
    try:
        return cloudpickle.dumps(func)
    except Exception as exc:
        culprit = _unpicklable_reference(func)
        name = getattr(func, "__qualname__", repr(func))
        where = f" because it refers to {culprit}" if culprit else ""
        raise PicklingError(
            f"function {name}{where}, which cannot be pickled ({type(exc).__name__}: {exc}); "
            "create such objects inside the function instead"
        ) from exc


def _unpicklable_reference(func: Callable[..., Any]) -> str | None:
    code = getattr(func, "__code__", None)
    if code is None:
        return None
    candidates: list[tuple[str, Any]] = []
    globs = getattr(func, "__globals__", {})
    candidates += [(f"global {n!r}", globs[n]) for n in code.co_names if n in globs]
    cells = getattr(func, "__closure__", None) or ()
    candidates += [(f"closure variable {n!r}", c.cell_contents) for n, c in zip(code.co_freevars, cells, strict=False)]
    for label, value in candidates:
        try:
            cloudpickle.dumps(value)
        except Exception:
            return f"{label} ({type(value).__name__})"
    return None


def dumps_arguments(
    calls: Sequence[tuple[tuple[Any, ...], dict[str, Any]]], first_index: int, futures: bool | None = None
) -> bytes:
    """Pickle the (args, kwargs) of some calls, each future in them (``futures``: whether
    there are any, None: look) as a reference; on failure, name the argument at fault."""
    from .dependencies import dumps_calls, parents_of  # futures are what a job makes: imported late

    if futures is None:
        futures = bool(parents_of(calls))
    try:
        return dumps_calls(calls) if futures else cloudpickle.dumps(list(calls))
    except Exception:
        for offset, (args, kwargs) in enumerate(calls):
            named = [(f"argument {i}", a) for i, a in enumerate(args)]
            named += [(f"keyword argument {k!r}", v) for k, v in kwargs.items()]
            for label, value in named:
                call = f" of call {first_index + offset}" if len(calls) > 1 else ""
                _dumps_checked(value, f"{label}{call} (type {type(value).__name__})")
        raise


class BlobStore:
    """Content-addressed files: the same bytes are stored (and uploaded) once."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self.root / digest
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = path.with_name(f".{digest}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return digest


def package(
    func: Callable[..., Any],
    calls: Sequence[tuple[tuple[Any, ...], dict[str, Any]]],
    *,
    backend: str,
    settings: Mapping[str, Any],
    home: Path,
    remote_work_dir: str,
    tasks_per_element: int,
) -> Job:
    """Write the job directory (its manifest names the blobs it needs) and return the job.

    Everything is pickled here, before anything is sent, so an unpicklable function or
    argument fails in ``submit`` with a message naming it.
    """
    from .dependencies import parents_of

    func_blob = dumps_function(func)
    job_id = new_job_id()
    local_dir = home / "jobs" / job_id
    job = Job(
        job_id=job_id,
        function=getattr(func, "__qualname__", getattr(func, "__name__", "function")),
        backend=backend,
        settings=dict(settings),
        local_dir=local_dir,
        remote_dir=f"{remote_work_dir.rstrip('/')}/jobs/{job_id}",
        n_calls=len(calls),
        tasks_per_element=max(1, tasks_per_element),
    )
    blobs = BlobStore(home / "blobs")
    elements = []
    for element in range(job.n_elements):
        span = job.calls_of(element)
        chunk = calls[span.start : span.stop]
        parents = parents_of(chunk)
        spec: dict[str, Any] = {
            "blob": blobs.put(dumps_arguments(chunk, span.start, bool(parents))),
            "calls": [span.start, span.stop],
        }
        if parents:  # the calls whose results this element takes (see clustrix.dependencies)
            spec["parents"] = [f.job_id for f in parents]
        elements.append(spec)
    manifest = {
        "format": 2,
        "job_id": job_id,
        "function": blobs.put(func_blob),
        "function_name": job.function,
        "blobs": "../../blobs",
        "elements": elements,
        "created": job.created,
        "max_log_bytes": int(settings.get("max_log_bytes") or 0),
    }
    for directory in (home / "jobs", local_dir):
        if not directory.exists():
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            directory.chmod(0o700)
    for sub in JOB_SUBDIRS:
        (local_dir / sub).mkdir(mode=0o700)
    write_key(local_dir)
    (local_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    shutil.copyfile(runner.__file__, local_dir / "runner.py")
    shutil.copyfile(Path(runner.__file__).with_name(runner.CHECKPOINT_MODULE), local_dir / runner.CHECKPOINT_MODULE)
    return job


def write_key(job_dir: Path) -> None:
    """The job's secret: 32 random bytes, 0600, staged with the job, never in the job store.

    The runner signs the results with it (HMAC-SHA256) and the client checks them before
    unpickling, so only a process that can read this file can produce a result.
    """
    fd = os.open(job_dir / runner.KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(32))
    finally:
        os.close(fd)
