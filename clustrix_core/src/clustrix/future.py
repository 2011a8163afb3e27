"""ClusterFuture: a concurrent.futures.Future for one call, also awaitable."""

from __future__ import annotations

import logging
import threading
from collections.abc import Generator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from .job import State

if TYPE_CHECKING:
    from .future_list import FutureList
    from .job import Job
    from .retry import Attempt
    from .target import Target

log = logging.getLogger("clustrix")


class OnHost:
    """The value of a call that succeeded and stayed on the execution host: a job's result
    that only dependent jobs were to read there (see :mod:`clustrix.dependencies`). The
    future holds this until ``result()`` is first asked, which fetches the value."""

    _lock = threading.Lock()

    def __repr__(self) -> str:
        return "<value on the execution host>"

    @classmethod
    def fetch(cls, future: ClusterFuture) -> Any:
        from .errors import ClustrixError, ResultCorrupted, ResultUnreadable
        from .outcome import read_outcomes

        job = future.job
        element = job.element_of(future.index)
        path = job.result_path(element)
        with cls._lock:
            try:
                if not path.exists():
                    future.target.hooks.clustrix_fetch(job=job, target=future.target, elements=[element])
                entry = read_outcomes(path)[future.index - job.calls_of(element).start]
            except ClustrixError:
                raise
            except Exception as exc:
                raise ResultUnreadable(
                    f"the value of job {future.job_id} stayed on the execution host ({job.remote_dir}) for the jobs "
                    f"that took it, and fetching it failed: {type(exc).__name__}: {exc}. `clustrix clean` removes "
                    "such job dirs; keep them until you have read the values you want."
                ) from exc
        if entry[0] != "ok":
            raise ResultCorrupted(f"job {future.job_id}: its summary said it returned, its result says {entry[0]!r}")
        future._keep_value(entry[1])
        return entry[1]


class ClusterFuture(Future[Any]):
    """The outcome of one call. ``job_id`` is Clustrix's id, ``native_id`` the scheduler's
    (the current attempt's: a retried call keeps its future, see ``attempts``).

    ``cancel()`` cancels the job itself wherever it runs; for a call of a ``.map()``, the
    array job is cancelled once every call of it is cancelled. ``result()`` interrupted
    (Ctrl-C) leaves the job running and says, in one warning line, how to cancel it.
    """

    def __init__(self, job: Job, index: int, target: Target, owner: FutureList | None = None) -> None:
        super().__init__()
        self.job = job
        self.index = index
        self.target = target
        #: the list of its job's futures that made it (``.map()``'s return value)
        self.owner = owner

    @property
    def job_id(self) -> str:
        return self.job.call_id(self.index)

    @property
    def native_id(self) -> str | None:
        return self.job.native_id

    @property
    def attempts(self) -> list[Attempt]:
        """Every submission of this call's job so far, from the job store: number, native id,
        state, reason and resources of each (``retries=`` adds one per retry)."""
        from .retry import attempts_of

        store = self.target.store
        own = store.call(self.job.call_id(self.index))[2]
        return attempts_of(store.attempts(self.job.job_id), self.job.element_of(self.index), own)

    def result(self, timeout: float | None = None) -> Any:
        """The call's return value (or its exception raised), waiting up to ``timeout`` seconds.

        Interrupted (Ctrl-C), it leaves the job running and says how to cancel it.
        """
        try:
            return self._fetched(super().result(timeout))
        except KeyboardInterrupt:
            if not self.done():
                log.warning(
                    "clustrix: interrupted while waiting for job %s; it keeps running (%s %s). "
                    "`clustrix cancel %s` cancels it, `clustrix result %s --wait` waits for it again.",
                    self.job_id,
                    self.job.backend,
                    self.native_id,
                    self.job.job_id,
                    self.job_id,
                )
            raise

    def wait_or_cancel(self) -> Any:
        """The result; interrupted (Ctrl-C), the job is cancelled and a warning line says so.

        What a blocking call ``f(x)`` does: the caller gave up on the job it started.
        """
        try:
            return self._fetched(super().result())
        except KeyboardInterrupt:
            try:
                cancelled = self.cancel()
            except Exception as exc:
                log.warning(
                    "clustrix: interrupted, but cancelling job %s failed (%s: %s); `clustrix cancel %s` retries",
                    self.job_id,
                    type(exc).__name__,
                    exc,
                    self.job.job_id,
                )
            else:
                if cancelled:
                    if not self.job.is_array:  # the whole job: recorded now, the process may exit next
                        self.target.store.set_job_state(self.job.job_id, State.CANCELLED)
                    log.warning(
                        "clustrix: interrupted: cancelled job %s (%s %s)", self.job_id, self.job.backend, self.native_id
                    )
            raise

    def _fetched(self, value: Any) -> Any:
        """The value; one left on the execution host (:class:`OnHost`) is fetched now."""
        return OnHost.fetch(self) if isinstance(value, OnHost) else value

    def _keep_value(self, value: Any) -> None:
        with self._condition:
            self._result = value
        if self.owner is not None:
            self.owner.keep_value(self.index, value)

    def cancel(self) -> bool:
        if self.done():
            return False
        return bool(self.target.watcher.cancel(self))

    def _cancel_locally(self) -> bool:
        if not super().cancel():
            return False
        # no worker of ours will take it: notify now, or concurrent.futures.wait/as_completed never see it
        self.set_running_or_notify_cancel()
        return True

    def __await__(self) -> Generator[Any, None, Any]:
        import asyncio  # only for awaiting users: keeps `import clustrix` light for job workers

        return asyncio.wrap_future(self).__await__()

    def _repr_html_(self) -> str:  # Jupyter: a one-row table
        from .listing import futures_html

        return futures_html([self])

    def __repr__(self) -> str:
        return f"<ClusterFuture {self.job_id} {self.job.backend}:{self.native_id} {self._state.lower()}>"
