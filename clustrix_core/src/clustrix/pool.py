"""``clustrix.Executor``: the ``concurrent.futures`` interface on any backend.

Code written for ``ProcessPoolExecutor`` moves to a cluster by changing one line::

    with clustrix.Executor(profile="hpc", cores=2) as pool:
        results = list(pool.map(simulate, range(1000), chunksize=10))

``submit`` runs one call as one job; ``map`` sends all of its calls in one job (one job
array where the backend has arrays), ``chunksize`` calls to an array element. Both go
through the same life cycle as ``@cluster`` and return :class:`~clustrix.ClusterFuture`\\ s.

Named ``pool`` because ``clustrix.executor`` is the local parallel executor (threads or
processes on this machine), a different thing.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from . import lifecycle
from .config import check_decorator_kwargs
from .future import ClusterFuture
from .plugins import manager


class Executor(concurrent.futures.Executor):
    """A ``concurrent.futures.Executor`` whose calls run through Clustrix.

    ``settings`` are the keywords of ``@cluster`` (``profile``, ``cluster_type``,
    ``cores``, ``time``, ...), checked here: an unknown key is a TypeError, a bad value a
    ConfigError. Where it differs from the standard executors: ``cancel()`` and
    ``shutdown(cancel_futures=True)`` also cancel calls already running on the cluster
    (there is no worker of ours to let finish), and ``shutdown(wait=False)`` leaves
    submitted jobs running: they stay in the job store, where ``clustrix.jobs()`` and
    ``clustrix.attach`` find them.
    """

    def __init__(self, **settings: Any) -> None:
        self.options = check_decorator_kwargs(settings, manager().settings())
        self._lock = threading.Lock()
        self._shutdown = False
        self._futures: weakref.WeakSet[ClusterFuture] = weakref.WeakSet()

    def _submit_calls(
        self, fn: Callable[..., Any], calls: list[lifecycle.Call], options: dict[str, Any]
    ) -> Sequence[ClusterFuture]:
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            futures = lifecycle.submit(fn, calls, options)
            self._futures.update(futures)
        return futures

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> ClusterFuture:
        """Run ``fn(*args, **kwargs)`` as one job; its future at once."""
        return self._submit_calls(fn, [(args, kwargs)], self.options)[0]

    def map(
        self,
        fn: Callable[..., Any],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int | None = None,
        progress: bool = False,
    ) -> Iterator[Any]:
        """``fn`` over the zipped iterables, results in input order, as ``Executor.map``.

        Every call is submitted before this returns (one job); the iterator raises
        ``TimeoutError`` if a result is not there ``timeout`` seconds after this call,
        and re-raises a call's exception when it gets to that result. Leaving it early
        cancels the calls not yet done. ``chunksize`` calls run in a row in one array
        element (``tasks_per_job``; default: automatic). ``progress=True`` shows a bar
        (see :func:`clustrix.wait`).
        """
        if chunksize is not None and chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        end_time = None if timeout is None else timeout + time.monotonic()
        calls: list[lifecycle.Call] = [(tuple(args), {}) for args in zip(*iterables, strict=False)]
        options = dict(self.options)
        if chunksize is not None:
            options["tasks_per_job"] = chunksize
        futures = self._submit_calls(fn, calls, options) if calls else []
        if progress:
            from .progress import track

            track(futures)
        return _results_in_order(futures, end_time)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No new calls after this; ``cancel_futures`` cancels every call not done yet,
        ``wait`` waits for the rest to finish."""
        with self._lock:
            self._shutdown = True
            outstanding = [f for f in self._futures if not f.done()]
        if cancel_futures:
            for future in outstanding:
                future.cancel()
        if wait:
            concurrent.futures.wait(outstanding)

    def __repr__(self) -> str:
        state = "shut down" if self._shutdown else "open"
        return f"<clustrix.Executor {self.options} {state}>"


def _results_in_order(futures: Sequence[ClusterFuture], end_time: float | None) -> Iterator[Any]:
    """Yield each result in order; on leaving early (error, timeout, close), cancel the rest."""
    pending = list(reversed(futures))  # pop() from the end: no reference kept to yielded results
    try:
        while pending:
            future = pending.pop()
            try:
                try:
                    result = future.result(None if end_time is None else end_time - time.monotonic())
                finally:
                    future.cancel()  # a no-op once done; on a timeout or an interrupt, this call too
            finally:
                del future
            yield result
            del result
    finally:
        for future in pending:
            future.cancel()
