"""One watcher per target: one status call per poll cycle for all outstanding jobs.

The interval grows with the age of the youngest outstanding job (fast while jobs are
young, slower as they age), between ``poll_interval`` and ``max_poll_interval``, so the
rate of status calls does not depend on how many futures are waiting. A batch backend
reads result files every cycle and asks its scheduler within ``status_queries_per_minute``.
When an element ends, its results are fetched, each call's future gets its value or
its exception (through the error chain), states go to the job store, and the job's
remote files are cleaned up once every call succeeded. An element the cluster killed
(or that raised a ``retry_on`` exception) is held instead while attempts remain; once
every element of the attempt has ended, the job is submitted again (``clustrix.retry``).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import dependencies, retry
from .errors import (
    ClustrixError,
    JobFailed,
    ResultCorrupted,
    ResultUnreadable,
    StatusUnavailable,
    SubmissionRejected,
)
from .failures import typed_failure
from .future import OnHost
from .job import Job, JobStatus, State
from .outcome import read_outcomes

if TYPE_CHECKING:
    from .future import ClusterFuture
    from .future_list import FutureList
    from .target import Target

log = logging.getLogger("clustrix.watcher")
#: default of the ``status_failures`` setting
STATUS_FAILURES = 10


#: an ended element's result file read: its outcomes (None: it wrote none) or why it is unusable
Read = tuple[list[tuple[Any, ...]] | None, ClustrixError | None]
#: a call's outcome to deliver: (its job's futures, its index, whether it returned, value or exception)
Outcome = tuple["FutureList", int, bool, Any]


@dataclass
class Watched:
    job: Job
    #: the job's futures (made when the caller takes them) and each call's outcome
    futures: FutureList
    open_elements: set[int]
    ok: bool = True
    cancel_requested: set[int] = field(default_factory=set)
    #: elements of the current attempt that run again in the next one, with their last status
    plan: retry.Retry = field(default_factory=retry.Retry)
    held: dict[int, tuple[JobStatus, Read]] = field(default_factory=dict)
    #: recorded HELD: submitted by the watcher once its parents ended (clustrix.dependencies)
    waiting: bool = False


def _read(job: Job, element: int) -> Read:
    """The outcomes in an ended element's (fetched) result file, or why they cannot be used."""
    path = job.result_path(element)
    try:
        if not path.exists():
            return None, None
        outcomes = read_outcomes(path)
        expected = len(job.calls_of(element))
        if len(outcomes) != expected:
            raise ResultCorrupted(f"{path} holds {len(outcomes)} outcomes for {expected} calls")
        return outcomes, None
    except ClustrixError as exc:
        return None, exc
    except Exception as exc:
        unusable = ResultUnreadable(f"{path} cannot be read: {type(exc).__name__}: {exc}")
        unusable.__cause__ = exc
        return None, unusable


class Watcher:
    def __init__(self, target: Target) -> None:
        self.target = target
        self._watched: dict[str, Watched] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.cycles = 0  # status calls made, for tests and `clustrix doctor`
        _watchers.add(self)

    def watch(self, job: Job, futures: FutureList, waiting: bool = False) -> None:
        with self._lock:
            self._watched[job.job_id] = Watched(job, futures, set(range(job.n_elements)), waiting=waiting)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=f"clustrix-watcher-{job.backend}", daemon=True)
                self._thread.start()
        self._wake.set()

    def watching(self) -> set[str]:
        """Ids of the jobs this watcher follows."""
        with self._lock:
            return set(self._watched)

    def cancel(self, future: ClusterFuture) -> bool:
        """Cancel a future, then its job once every call of it is cancelled or done (the
        calls done ran in elements that ended: cancelling the job stops only the rest).

        The future is cancelled first, so a poll settling the job meanwhile cannot make
        ``cancel()`` report failure after the job was already killed.
        """
        with self._lock:
            watched = self._watched.get(future.job.job_id)
            if watched is None or not watched.futures.cancel(future.index, future):
                return False
            watched.cancel_requested.add(future.index)
            whole_job = watched.futures.all_done()
        self.target.store.set_states({future.job_id: State.CANCELLED})
        if whole_job and watched.waiting:  # never submitted: nothing runs anywhere
            with self._lock:
                self._watched.pop(future.job.job_id, None)
            self.target.store.set_job_state(future.job.job_id, State.CANCELLED)
            dependencies.cancel_dependents(self.target, future.job, elementwise_too=True)
        elif whole_job:
            self.target.hooks.clustrix_cancel(jobs=[future.job], target=self.target)
            dependencies.cancel_dependents(self.target, future.job, elementwise_too=True)  # they wait for it
        return True

    def _interval(self) -> float:
        settings = self.target.settings
        low, high = float(settings.get("poll_interval") or 0.05), float(settings.get("max_poll_interval") or 2)
        with self._lock:
            youngest = max((w.job.created for w in self._watched.values()), default=time.time())
        return min(high, max(low, (time.time() - youngest) * 0.1))

    def stop(self, timeout: float) -> None:
        """Finish the cycle in progress (results, store, clean-up), then stop polling.

        Jobs still running stay in the job store; ``clustrix.attach`` picks them up later.
        """
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0  # poll cycles in a row that raised
        while not self._stopping:
            with self._lock:
                watched = list(self._watched.values())
            if not watched:
                self._wake.wait(timeout=60)
                self._wake.clear()
                continue
            try:
                self.poll(watched)
                failures = 0
            except Exception as exc:  # the watcher must outlive a dropped connection or a bad answer
                failures += 1
                log.warning(
                    "status poll for %s failed (%d in a row); retrying", self.target.backend, failures, exc_info=True
                )
                self._give_up(watched, exc, failures)
                time.sleep(min(5.0, self._interval() * 4))
            self._wake.wait(timeout=self._interval())
            self._wake.clear()

    def _give_up(self, watched: list[Watched], exc: Exception, failures: int) -> None:
        """Fail the futures of every job whose ``status_failures`` limit this run of failed
        cycles reached, with the error: a backend that cannot answer never hangs a future.
        The job stays in the job store as it was, so ``attach`` can pick it up later."""
        for w in watched:
            if failures < int(w.job.settings.get("status_failures") or STATUS_FAILURES):
                continue
            error = StatusUnavailable(
                f"the status of job {w.job.job_id} ({self.target.backend}) could not be read in {failures} poll "
                f"cycles in a row: {type(exc).__name__}: {exc}. The job may still run: check the host "
                "(clustrix doctor), then `clustrix status` or clustrix.attach"
            )
            error.__cause__ = exc
            with self._lock:
                self._watched.pop(w.job.job_id, None)
            w.futures.fail_pending(error)

    def poll(self, watched: list[Watched]) -> None:
        """One cycle: one batched status call, then settle every element that ended, or
        hold it for its job's next attempt (``clustrix.retry``); resubmit last."""
        self.cycles += 1
        # a job between two attempts has no native id: follow it to the next one first
        watched = [w for w in watched if w.job.native_id is not None or w.job.attempt == 1 or self._followed(w)]
        watched = [w for w in watched if not w.waiting or self._released(w)]
        if not watched:
            return
        statuses = self.target.hooks.clustrix_status(jobs=[w.job for w in watched], target=self.target) or {}
        call_states: dict[str, State] = {}
        element_states: dict[tuple[str, int], State] = {}  # every call of the element in that state
        job_states: dict[str, State] = {}
        attempt_ends: dict[tuple[str, int], tuple[State, str]] = {}
        outcomes: list[Outcome] = []  # set after the store knows
        finished: list[Watched] = []
        again: list[Watched] = []
        for w in watched:
            status = statuses.get(w.job.job_id)
            if status is None:
                continue
            ended = sorted(e for e in w.open_elements if status.of(e).terminal)
            if not ended:
                if status.state == State.RUNNING:
                    job_states[w.job.job_id] = State.RUNNING
                continue
            staying = dependencies.values_staying(self.target, w.job, ended, status)
            try:
                fetched = [e for e in ended if e not in staying]
                if fetched:
                    self.target.hooks.clustrix_fetch(job=w.job, target=self.target, elements=fetched)
            except Exception:  # this job's files could not be fetched: retry it next cycle, go on with the rest
                log.warning("fetching the results of job %s failed; retrying", w.job.job_id, exc_info=True)
                continue
            for element in ended:
                if element in staying:  # succeeded; its values stay on the host for the jobs taking them
                    element_states[(w.job.job_id, element)] = State.COMPLETED
                    outcomes += [(w.futures, i, True, OnHost()) for i in w.job.calls_of(element)]
                else:
                    read = _read(w.job, element)
                    if not self._held_for_retry(w, element, status, read):
                        self._settle(w, element, status, read, (call_states, element_states), outcomes)
                w.open_elements.discard(element)
            if w.open_elements:
                job_states[w.job.job_id] = State.RUNNING
            elif w.plan.elements:
                job_states[w.job.job_id] = State.RUNNING
                again.append(w)
            else:
                # every element ended but not every call succeeded: a final state, never COMPLETED/RUNNING
                bad = [x for x in (*status.elements.values(), status.state) if x.terminal and x != State.COMPLETED]
                failed = bad[0] if bad else State.FAILED
                job_states[w.job.job_id] = State.COMPLETED if w.ok else failed
                reasons = dict.fromkeys(_reason(status, e) for e in range(w.job.n_elements))
                attempt_ends[(w.job.job_id, w.job.attempt)] = (
                    job_states[w.job.job_id],
                    "; ".join(r for r in reasons if r),
                )
                finished.append(w)
        # the store first, then the futures: a caller that exits once it has its results
        # must not leave the job recorded as still running
        self.target.store.set_states(call_states, job_states, attempt_ends, element_states)
        self._deliver(outcomes)
        for w in again:  # talks to the scheduler: after this cycle's writes, outside the lock
            self._resubmit(w)
        for w in finished:  # clean up after the results are out: it costs a round trip
            self._finish(w)

    def _followed(self, w: Watched) -> bool:
        """Whether a job whose next attempt another process is submitting has its native id
        now; if that submission failed, its held calls fail saying so."""
        failed = retry.follow(self.target, w.job)
        if failed is not None:
            error = JobFailed(
                f"attempt {w.job.attempt} of job {w.job.job_id} could not be submitted by the process that "
                "began it; `clustrix status` shows its reason",
                job_id=w.job.job_id,
                state=failed.value,
            )
            with self._lock:
                self._watched.pop(w.job.job_id, None)
            w.futures.fail_pending(error)
        return w.job.native_id is not None

    @staticmethod
    def _deliver(outcomes: list[Outcome]) -> None:
        for futures, index, ok, value in outcomes:
            futures.settle(index, ok, value)  # a no-op for a call cancelled meanwhile

    def _held_for_retry(self, w: Watched, element: int, status: JobStatus, read: Read) -> bool:
        """Whether ``element`` runs again in the job's next attempt (then its calls wait)."""
        if not retry.attempts_left(w.job) or all(w.futures.cancelled(i) for i in w.job.calls_of(element)):
            return False
        outcomes, unusable = read
        if unusable is not None:
            return False
        state = status.of(element)
        if outcomes is None and state not in retry.RETRYABLE:  # e.g. FAILED, that only its logs call OOM
            state = self._typed_state(w.job, element, status) or state
        verdict = retry.decide(w.job, state, outcomes)
        if verdict is None:
            return False
        state, reason = verdict
        w.plan.add(element, state, _reason(status, element) or reason)
        w.held[element] = (status, read)
        log.info(
            "job %s: element %d ended %s; it runs again in attempt %d",
            w.job.job_id,
            element,
            state.value,
            w.job.attempt + 1,
        )
        return True

    def _typed_state(self, job: Job, element: int, status: JobStatus) -> State | None:
        """The state the error chain gives an element that ended without a result, when it
        knows better than the scheduler's state (PBS: FAILED, its logs say out of memory)."""
        try:
            error = self.target.hooks.clustrix_extract_error(
                job=job, target=self.target, call_index=job.calls_of(element)[0], status=status, outcome=None
            )
            return State(error.state) if isinstance(error, JobFailed) and error.state else None
        except Exception:
            log.warning("reading why element %d of job %s ended failed", element, job.job_id, exc_info=True)
            return None

    def _resubmit(self, w: Watched) -> None:
        """The job's next attempt; if it cannot be submitted, its held calls fail with their
        last failure, the submission's error noted and chained: nothing waits for it."""
        held, plan = w.held, w.plan
        w.held, w.plan = {}, retry.Retry()
        try:
            retry.resubmit(self.target, w.job, plan)
        except Exception as exc:
            log.warning("job %s: attempt %d could not be submitted", w.job.job_id, w.job.attempt, exc_info=True)
            call_states: dict[str, State] = {}
            element_states: dict[tuple[str, int], State] = {}
            outcomes: list[Outcome] = []
            note = f"attempt {w.job.attempt} could not be submitted: {type(exc).__name__}: {exc}"
            for element, (status, read) in sorted(held.items()):
                states = (call_states, element_states)
                self._settle(w, element, status, read, states, outcomes, submit_error=(note, exc))
            state = State.REJECTED if isinstance(exc, SubmissionRejected) else State.FAILED
            with contextlib.suppress(Exception):  # the futures must not wait for a store that fails too
                self.target.store.set_states(
                    call_states,
                    {w.job.job_id: state},
                    {(w.job.job_id, w.job.attempt): (state, note)},
                    element_states,
                )
            self._deliver(outcomes)
            self._finish(w)
            return
        w.open_elements = set(held)
        if w.futures.all_done():  # every call cancelled meanwhile
            self.target.hooks.clustrix_cancel(jobs=[w.job], target=self.target)

    def _released(self, w: Watched) -> bool:
        """Submit a held job whose parents all ended; on failure, its calls get the error."""
        try:
            w.waiting = not dependencies.release(self.target, w.job)
        except Exception as exc:
            log.warning("submitting job %s after its parents failed", w.job.job_id, exc_info=True)
            with self._lock:
                self._watched.pop(w.job.job_id, None)
            w.futures.fail_pending(exc)
            return False
        return not w.waiting

    def _settle(
        self,
        w: Watched,
        element: int,
        status: JobStatus,
        read: Read,
        states: tuple[dict[str, State], dict[tuple[str, int], State]],
        settled: list[Outcome],
        submit_error: tuple[str, Exception] | None = None,
    ) -> None:
        """Give every call of an ended element its value or its error; never raises, so one
        element that cannot be settled (a result unreadable here) fails its own calls only.
        After more than one attempt, each error carries every attempt's story as notes.
        ``states`` gets the calls' states for the store: one for the element when they agree."""
        job, hooks = w.job, self.target.hooks
        outcomes, unusable = read
        story: list[str] | None = None
        mine: dict[int, State] = {}
        for i in job.calls_of(element):
            outcome = outcomes[i - job.calls_of(element).start] if outcomes else None
            if outcome is not None and outcome[0] == "ok":
                mine[i] = State.CANCELLED if w.futures.cancelled(i) else State.COMPLETED  # as its future says
                settled.append((w.futures, i, True, outcome[1]))
                continue
            w.ok = False
            error: BaseException | None = unusable
            state = State.FAILED if outcome is not None or unusable is not None else status.of(element)
            if outcome is not None and outcome[0] == "requeue":  # no attempt left to requeue it to
                state = retry.requeue_state(str(outcome[1]))
                error = typed_failure(
                    job,
                    i,
                    JobStatus(state, {element: state}),
                    "",
                    f"the call returned early on the scheduler's warning ({outcome[1]}) and has no retry left",
                )
            if error is None:
                try:
                    error = hooks.clustrix_extract_error(
                        job=job, target=self.target, call_index=i, status=status, outcome=outcome
                    )
                except Exception as exc:
                    error = ClustrixError(
                        f"job {job.call_id(i)} ended ({status.of(element).value}) but its error could not be "
                        f"read: {type(exc).__name__}: {exc}"
                    )
                    error.__cause__ = exc
            assert error is not None  # the core's last link always answers
            if job.attempt > 1 or submit_error is not None:
                story = story if story is not None else self._story(job, element, status, outcome, submit_error)
                for line in story:
                    error.add_note(line)
                if submit_error is not None and error.__cause__ is None:
                    error.__cause__ = submit_error[1]
            mine[i] = State.CANCELLED if w.futures.cancelled(i) else state
            settled.append((w.futures, i, False, error))
        if len(set(mine.values())) == 1:  # the common case: one row for the element
            states[1][(job.job_id, element)] = next(iter(mine.values()))
        else:
            states[0].update((job.call_id(i), s) for i, s in mine.items())

    def _story(
        self,
        job: Job,
        element: int,
        status: JobStatus,
        outcome: tuple[Any, ...] | None,
        submit_error: tuple[str, Exception] | None,
    ) -> list[str]:
        last = status.of(element) if outcome is None else State.FAILED
        try:
            rows = self.target.store.attempts(job.job_id)
        except Exception:
            log.warning("the attempts of job %s could not be read", job.job_id, exc_info=True)
            rows = []
        if submit_error is not None:
            return [*retry.story(rows[:-1], job, element, last), submit_error[0]]
        return retry.story(rows, job, element, last, _reason(status, element))

    def _finish(self, w: Watched) -> None:
        with self._lock:
            self._watched.pop(w.job.job_id, None)
        # a job whose results a job still waiting takes keeps its files until that one ends
        if (
            w.ok
            and not w.job.settings.get("keep_files")
            and not dependencies.needed(self.target.store, w.job)
            and not dependencies.values_on_host(w.job)
        ):
            try:
                self.target.hooks.clustrix_cleanup(job=w.job, target=self.target)
            except Exception:
                log.warning("cleanup of job %s failed", w.job.job_id, exc_info=True)
        if not w.ok:  # a job waiting for one that lost a call would be held forever
            dependencies.release_stranded(self.target, w.job)
        dependencies.clean_released_parents(self.target, w.job)


_watchers: weakref.WeakSet[Watcher] = weakref.WeakSet()


@atexit.register
def _stop_all_watchers() -> None:
    """At interpreter exit, let every watcher finish its cycle before the runtime is torn
    down: a daemon thread still talking to a client library during finalization can
    abort the process, and a half-done clean-up would leave remote files behind."""
    for watcher in list(_watchers):
        watcher.stop(timeout=30)


def _reason(status: JobStatus, element: int) -> str:
    """Why ``element`` ended, as far as the status tells: its reason (e.g. 'the worker
    exited') speaks for the elements without a result only; an element that wrote one
    (COMPLETED, even when its call raised) has its reason in that result."""
    return "" if status.of(element) == State.COMPLETED else status.reason
