"""ClusterFuture: a concurrent.futures.Future for one call, also awaitable."""

from __future__ import annotations

from collections.abc import Generator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .job import Job
    from .target import Target


class ClusterFuture(Future[Any]):
    """The outcome of one call. ``job_id`` is Clustrix's id, ``native_id`` the scheduler's.

    ``cancel()`` cancels the job itself wherever it runs; for a call of a ``.map()``, the
    array job is cancelled once every call of it is cancelled.
    """

    def __init__(self, job: Job, index: int, target: Target) -> None:
        super().__init__()
        self.job = job
        self.index = index
        self.target = target

    @property
    def job_id(self) -> str:
        return self.job.call_id(self.index)

    @property
    def native_id(self) -> str | None:
        return self.job.native_id

    def cancel(self) -> bool:
        if self.done():
            return False
        return bool(self.target.watcher.cancel(self))

    def _cancel_locally(self) -> bool:
        return super().cancel()

    def __await__(self) -> Generator[Any, None, Any]:
        import asyncio  # only for awaiting users: keeps `import clustrix` light for job workers

        return asyncio.wrap_future(self).__await__()

    def __repr__(self) -> str:
        return f"<ClusterFuture {self.job_id} {self.job.backend}:{self.native_id} {self._state.lower()}>"
