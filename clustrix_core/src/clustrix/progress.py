"""Progress of many calls: ``clustrix.wait(futures, progress=True)``, ``.map(..., progress=True)``.

The bar is tqdm's ``tqdm.auto`` (extra ``clustrix[progress]``): a terminal bar on a TTY,
a widget in a Jupyter kernel, and nothing at all when the output is not interactive (a
pipe, a log file, CI) — tqdm decides, with ``disable=None``. It counts calls done, and
shows how many failed, run (their job is running) and wait (pending) beside it.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Iterable
from typing import Any

from .errors import ConfigError
from .future import ClusterFuture
from .job import State
from .store import Store

#: how often the running/pending counts are refreshed while nothing finishes (seconds)
REFRESH = 1.0


def _tqdm() -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ConfigError(
            "progress=True draws its bar with tqdm, which is not installed: pip install 'clustrix[progress]'"
        ) from None
    return tqdm


class Progress:
    """One bar over a set of futures, updated as they finish."""

    def __init__(self, futures: Iterable[concurrent.futures.Future[Any]], desc: str | None = None) -> None:
        self.futures = list(dict.fromkeys(futures))
        self.bar = _tqdm()(total=len(self.futures), unit="call", desc=desc or "clustrix", disable=None)
        self.shown = 0
        self._lock = threading.Lock()

    def counts(self) -> dict[str, int]:
        """Calls failed, running and pending (running: the job holding it is running)."""
        failed = sum(1 for f in self.futures if f.done() and (f.cancelled() or f.exception() is not None))
        running = pending = 0
        job_states: dict[str, str] = {}
        for f in self.futures:
            if f.done():
                continue
            if isinstance(f, ClusterFuture):
                job_id = f.job.job_id
                if job_id not in job_states:
                    try:
                        job_states[job_id] = f.target.store.row(job_id)["state"]
                    except Exception:  # a record still being written: count the call as pending
                        job_states[job_id] = State.PENDING.value
                running += job_states[job_id] == State.RUNNING.value
                pending += job_states[job_id] != State.RUNNING.value
            else:
                pending += 1
        return {"failed": failed, "running": running, "pending": pending}

    def update(self, _: Any = None) -> None:
        """Redraw with the current counts (also a done-callback: thread-safe); closes when all are done."""
        with self._lock:
            if self.shown == len(self.futures):  # finished and closed already
                return
            done = sum(1 for f in self.futures if f.done())
            self.bar.set_postfix(self.counts(), refresh=False)
            self.bar.update(done - self.shown)
            self.shown = done
            if done == len(self.futures):
                self.bar.close()

    def follow(self, timeout: float | None = None, return_when: str = concurrent.futures.ALL_COMPLETED) -> Any:
        """Wait as ``concurrent.futures.wait`` does, updating the bar; closes it when done."""
        end = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                self.update()
                result = concurrent.futures.wait(self.futures, 0, return_when)
                if self._met(result, return_when) or (end is not None and time.monotonic() >= end):
                    return result
                step = REFRESH if end is None else max(0.0, min(REFRESH, end - time.monotonic()))
                concurrent.futures.wait(result.not_done, step, concurrent.futures.FIRST_COMPLETED)
        finally:
            self.bar.close()

    @staticmethod
    def _met(result: Any, return_when: str) -> bool:
        if not result.not_done:
            return True
        if return_when == concurrent.futures.FIRST_COMPLETED:
            return bool(result.done)
        if return_when == concurrent.futures.FIRST_EXCEPTION:
            return any(not f.cancelled() and f.exception() is not None for f in result.done)
        return False


def wait(
    futures: Iterable[concurrent.futures.Future[Any]],
    timeout: float | None = None,
    return_when: str = concurrent.futures.ALL_COMPLETED,
    *,
    progress: bool = False,
) -> concurrent.futures._base.DoneAndNotDoneFutures[Any]:
    """``concurrent.futures.wait``, with a progress bar when ``progress=True``."""
    if not progress:
        return concurrent.futures.wait(futures, timeout, return_when)
    return Progress(futures).follow(timeout, return_when)


def track(futures: Iterable[concurrent.futures.Future[Any]], desc: str | None = None) -> Progress:
    """Show a bar for these futures from a background thread until every one is done."""
    progress = Progress(futures, desc)
    for future in progress.futures:  # callbacks run in the watcher, which finishes before exit
        future.add_done_callback(progress.update)
    threading.Thread(target=progress.follow, name="clustrix-progress", daemon=True).start()
    return progress


def watch_jobs(store: Store, job_ids: list[str]) -> None:
    """``clustrix jobs --watch``: follow these recorded jobs' calls until every one ended."""
    from .lifecycle import attach_job

    futures = [f for job_id in job_ids for f in attach_job(store.job(job_id)[0])]
    if futures:
        Progress(futures, desc="jobs").follow()
