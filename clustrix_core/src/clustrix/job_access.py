"""Reaching recorded jobs from a process that did not submit them (the CLI's engine).

A recorded job is rebuilt from the job store, its futures settled either from the
result files already here (a finished job, even after its remote directory was
removed) or by polling its backend through its target's watcher — one batched status
call per target per round, exactly as the submitting process would have done, so the
states found are written back to the store.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import ClustrixError, TransportError
from .future import ClusterFuture
from .future_list import FutureList
from .job import Job, State
from .lifecycle import resolve
from .outcome import exception_of, read_outcomes
from .store import Store, open_store
from .target import Target, clustrix_home, target_for
from .watcher import Watched


def store_here() -> Store:
    """The job store of the configured Clustrix home (setting ``home``, CLUSTRIX_HOME, platformdirs)."""
    return open_store(clustrix_home(resolve({}).values))


@dataclass
class Recorded:
    """A recorded job rebuilt in this process, with a future for each of its calls."""

    job: Job
    state: State
    target: Target
    watched: Watched

    @classmethod
    def of(cls, job: Job, state: str) -> Recorded:
        target = target_for(job.settings)
        futures = FutureList(job, target)
        held = State(state) == State.HELD  # its parents have not all ended: polling submits it when they have
        return cls(job, State(state), target, Watched(job, futures, set(range(job.n_elements)), waiting=held))

    def futures(self, index: int | None) -> list[ClusterFuture]:
        """The future of one call, or of every call when ``index`` is None."""
        futures = self.watched.futures
        return [futures[index]] if index is not None else list(futures)

    def settle_from_local_files(self) -> bool:
        """Settle every call from result files already here; False if any element's file is missing."""
        job = self.job
        if not all(job.result_path(e).exists() for e in range(job.n_elements)):
            return False
        for element in range(job.n_elements):
            outcomes = read_outcomes(job.result_path(element))
            for i, outcome in zip(job.calls_of(element), outcomes, strict=True):
                if outcome[0] == "ok":
                    self.watched.futures.settle(i, True, outcome[1])
                else:
                    self.watched.futures.settle(i, False, exception_of(outcome, job.call_id(i)))
        self.watched.open_elements.clear()
        return True


def poll_once(recorded: Sequence[Recorded]) -> None:
    """One round: one batched status call per target for the jobs still open."""
    by_target: dict[int, list[Recorded]] = defaultdict(list)
    for r in recorded:
        if r.watched.open_elements:
            by_target[id(r.target)].append(r)
    for group in by_target.values():
        target = group[0].target
        try:
            target.watcher.poll([r.watched for r in group])
        except ClustrixError:
            raise
        except Exception as exc:  # a dropped connection, a scheduler command that failed
            raise TransportError(
                f"could not ask the {target.backend} backend ({target.transport.where}) about "
                f"{', '.join(r.job.job_id for r in group)}: {type(exc).__name__}: {exc}"
            ) from exc


def settle(
    recorded: Sequence[Recorded], wanted: Sequence[ClusterFuture], *, wait: bool, timeout: float | None = None
) -> bool:
    """Settle ``wanted`` futures: local files for finished jobs, else poll (until done if ``wait``)."""
    for r in recorded:
        if r.state.terminal and r.watched.open_elements:
            r.settle_from_local_files()
    deadline = None if timeout is None else time.monotonic() + timeout
    interval = 0.2
    while True:
        if all(f.done() for f in wanted):
            return True
        poll_once(recorded)
        if all(f.done() for f in wanted):
            return True
        if not wait or (deadline is not None and time.monotonic() >= deadline):
            return False
        pause = interval if deadline is None else max(0.0, min(interval, deadline - time.monotonic()))
        time.sleep(pause)
        interval = min(5.0, interval * 1.5)


def refresh(store: Store, job_ids: Sequence[str]) -> list[str]:
    """Ask the backends once about these jobs' live ones; return warnings for those that could not be asked."""
    warnings: list[str] = []
    live: list[Recorded] = []
    for job_id in dict.fromkeys(job_ids):
        job, _, state = store.job(job_id)
        if not State(state).terminal:
            try:
                live.append(Recorded.of(job, state))
            except ClustrixError as exc:
                warnings.append(f"{job_id}: {exc}")
    by_target: dict[int, list[Recorded]] = defaultdict(list)
    for r in live:
        by_target[id(r.target)].append(r)
    for group in by_target.values():
        try:
            poll_once(group)
        except ClustrixError as exc:
            warnings.append(f"showing the recorded state: {exc}")
    return warnings
