"""A joblib backend: ``Parallel`` (and scikit-learn's ``n_jobs``) on any Clustrix backend.

``import clustrix.joblib`` registers the backend ``"clustrix"``::

    import clustrix.joblib
    from joblib import Parallel, delayed, parallel_config

    with parallel_config(backend="clustrix", profile="hpc", cores=2):
        Parallel(n_jobs=-1)(delayed(simulate)(seed) for seed in range(100))

Keywords of ``parallel_config`` other than joblib's own are ``@cluster`` settings,
checked when the backend is made. Each joblib batch is one call; the batches joblib
dispatches together go in one job, packed into array elements (``tasks_per_job``, by
default automatic). ``n_jobs`` is how many batches joblib keeps in flight; ``-1`` (or
None) dispatches them all at once, and the scheduler (``max_concurrent``) decides how
many run together.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import operator
import threading
from collections.abc import Callable, Iterator
from typing import Any

from joblib import register_parallel_backend
from joblib.parallel import ParallelBackendBase

from . import lifecycle
from .config import check_decorator_kwargs
from .future import ClusterFuture
from .job import send_module_by_value
from .plugins import manager

#: batches submitted within this many seconds of each other go in one job
GATHER_SECONDS = 0.1

#: what ``n_jobs=-1`` means: every batch in flight at once (the scheduler throttles)
ALL_AT_ONCE = 1024


class ClustrixBackend(ParallelBackendBase):
    """joblib's ``ParallelBackendBase`` over Clustrix jobs: one call per batch."""

    supports_retrieve_callback = True
    supports_timeout = True
    default_n_jobs = -1

    def __init__(self, nesting_level: int | None = None, inner_max_num_threads: int | None = None, **settings: Any):
        super().__init__(nesting_level=nesting_level, inner_max_num_threads=inner_max_num_threads)
        self.options = check_decorator_kwargs(settings, manager().settings())
        self._lock = threading.Condition()
        self._queued: list[tuple[Callable[[], Any], concurrent.futures.Future[Any]]] = []
        self._submitted: list[ClusterFuture] = []
        self._flusher: threading.Thread | None = None

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        if n_jobs == 0:
            raise ValueError("n_jobs == 0 in Parallel has no meaning")
        if n_jobs is None or n_jobs < 0:
            return ALL_AT_ONCE
        return int(n_jobs)

    def submit(self, func: Callable[[], Any], callback: Callable[[Any], None] | None = None) -> Any:
        """Queue one batch; it is submitted with the batches queued around it, as one job."""
        proxy: concurrent.futures.Future[Any] = concurrent.futures.Future()
        if callback is not None:
            proxy.add_done_callback(callback)
        with self._lock:
            self._queued.append((func, proxy))
            if self._flusher is None or not self._flusher.is_alive():
                self._flusher = threading.Thread(target=self._flush_when_quiet, name="clustrix-joblib", daemon=True)
                self._flusher.start()
            self._lock.notify_all()
        return proxy

    def retrieve_result_callback(self, out: concurrent.futures.Future[Any]) -> Any:
        return out.result()

    @contextlib.contextmanager
    def retrieval_context(self) -> Iterator[None]:
        self.flush()  # joblib has dispatched its first batches and now waits for them
        yield

    def _flush_when_quiet(self) -> None:
        with self._lock:
            while self._queued:
                count = len(self._queued)
                self._lock.wait(GATHER_SECONDS)
                if len(self._queued) == count:  # nothing new: submit what is there
                    self._lock.release()
                    try:
                        self.flush()
                    finally:
                        self._lock.acquire()

    def flush(self) -> None:
        """Submit every queued batch now, as one job (one call each)."""
        with self._lock:
            queued, self._queued = self._queued, []
        if not queued:
            return
        for func, _ in queued:  # the user's functions travel by value, as @cluster's do
            for task in getattr(func, "items", ()):
                send_module_by_value(getattr(task[0], "func", task[0]))
        try:
            futures = lifecycle.submit(operator.call, [((func,), {}) for func, _ in queued], self.options)
        except BaseException as exc:
            for _, proxy in queued:
                proxy.set_exception(exc)
            return
        with self._lock:
            self._submitted.extend(futures)
        for future, (_, proxy) in zip(futures, queued, strict=True):
            future.add_done_callback(functools.partial(_pass_on, proxy))

    def abort_everything(self, ensure_ready: bool = True) -> None:
        """A batch failed: cancel every call not done (joblib raises the error)."""
        with self._lock:
            queued, self._queued = self._queued, []
            submitted, self._submitted = self._submitted, []
        for _, proxy in queued:
            proxy.cancel()
        for future in submitted:
            future.cancel()

    def terminate(self) -> None:
        with self._lock:
            self._submitted = [f for f in self._submitted if not f.done()]


def _pass_on(proxy: concurrent.futures.Future[Any], done: concurrent.futures.Future[Any]) -> None:
    if proxy.done():
        return
    if done.cancelled():
        proxy.cancel()
    elif done.exception() is not None:
        proxy.set_exception(done.exception())
    else:
        proxy.set_result(done.result())


register_parallel_backend("clustrix", ClustrixBackend)
