"""Retries: which ended elements run again, with what resources, and their resubmission.

A call is retried (``retries=N``: at most N more attempts) when the cluster ended it:
its element ended OUT_OF_MEMORY, TIMEOUT, PREEMPTED, NODE_FAIL or LOST without a
result, or the runner wrote ``("requeue", reason)`` for it (the scheduler warned of a
walltime or preemption kill and the function returned early), or when it raised an
exception named in ``retry_on``. A user's other exceptions, and a cancelled job, never.

The unit is the element (what a scheduler launches). An attempt submits THE SAME job
again (same job id, job dir, manifest, calls) with the next attempt number, the
escalated settings and a new native id. Each retried element's result file is first
set aside (``results/E.pkl`` -> ``results/E.attempt-K.pkl``) on the host and here; the
runner quits at once for an element that already has its result, so the whole job
can be resubmitted and only the retried elements run again.

Escalation (``escalate={"memory": 2.0, "time": 1.5}``) multiplies memory after
OUT_OF_MEMORY and the time limit after TIMEOUT, compounded per attempt, capped by
the backend's ``clustrix_resource_limits`` when it tells them.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import PluginContractError
from .job import Job, State
from .quantities import hms, parse_memory, parse_time

if TYPE_CHECKING:
    from .target import Target

log = logging.getLogger("clustrix.retry")

#: final states of an element that the cluster caused: retried while attempts remain
RETRYABLE = frozenset({State.OUT_OF_MEMORY, State.TIMEOUT, State.PREEMPTED, State.NODE_FAIL, State.LOST})
#: the failure that grows each resource of ``escalate``
GROWN_ON = {"memory": State.OUT_OF_MEMORY, "time": State.TIMEOUT}


@dataclass
class Retry:
    """The elements of a job to run again: each with the state it ended in and why."""

    elements: dict[int, State] = field(default_factory=dict)
    reasons: dict[int, str] = field(default_factory=dict)

    def add(self, element: int, state: State, reason: str) -> None:
        self.elements[element] = state
        self.reasons[element] = reason

    @property
    def state(self) -> State:
        """The attempt's state as recorded: the first retried element's."""
        return self.elements[min(self.elements)]

    @property
    def reason(self) -> str:
        return "; ".join(dict.fromkeys(r for r in self.reasons.values() if r))


def requeue_state(reason: str) -> State:
    """The state a ``("requeue", reason)`` outcome stands for: TIMEOUT when the warning was
    the walltime's, else PREEMPTED."""
    return State.TIMEOUT if re.search(r"time ?limit|walltime|timeout|h_rt", reason, re.IGNORECASE) else State.PREEMPTED


def _raised(outcome: tuple[Any, ...], retry_on: Sequence[str]) -> str | None:
    """The retry_on class an ``("error", ...)`` outcome's exception is an instance of, if any."""
    exc, type_name = outcome[1], outcome[2]
    names = {type_name}
    if isinstance(exc, BaseException):
        for cls in type(exc).__mro__:
            names.add(cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}")
    return next((name for name in retry_on if name in names), None)


def decide(job: Job, state: State, outcomes: Sequence[tuple[Any, ...]] | None) -> tuple[State, str] | None:
    """Whether an ended element runs again, as far as its own end tells (attempts left and
    cancellation are the watcher's to judge): ``(state, reason)`` for the attempt's record,
    or None. ``outcomes`` are the element's entries of its result file (None: it wrote none)."""
    if outcomes is None:
        return (state, f"the element ended {state.value}") if state in RETRYABLE else None
    for outcome in outcomes:
        if outcome[0] == "requeue":  # the scheduler's word first: a pod past its deadline only saw SIGTERM
            kind = state if state in (State.TIMEOUT, State.PREEMPTED) else requeue_state(str(outcome[1]))
            return kind, f"requeued: {outcome[1]}"
    retry_on = job.settings.get("retry_on") or []
    for outcome in outcomes:
        if outcome[0] == "error" and (name := _raised(outcome, retry_on)):
            return State.FAILED, f"raised {name} (retry_on): {outcome[3]}"[:500]
    return None


def attempts_left(job: Job) -> bool:
    return job.attempt <= int(job.settings.get("retries") or 0)


# --- escalation ---------------------------------------------------------------------------

_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(.*?)\s*$")


def _times(value: Any, factor: float) -> Any:
    """A memory value grown ``factor`` times, written in its own unit ('200MB' x2 -> '400MB')."""
    if isinstance(value, (int, float)):
        return math.ceil(value * factor)
    m = _NUMBER.match(str(value))
    assert m is not None  # the value passed parse_memory at decoration
    number = float(m.group(1)) * factor
    text = f"{number:.3f}".rstrip("0").rstrip(".")
    return f"{text}{m.group(2)}"


def escalated(
    settings: Mapping[str, Any], causes: set[State], limits: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """The next attempt's settings: each resource of ``escalate`` whose failure is among
    ``causes`` multiplied by its factor (compounded: ``settings`` are the last attempt's),
    never above ``limits`` (``{"memory": bytes, "time": seconds}``); the rest unchanged."""
    new = dict(settings)
    factors = settings.get("escalate") or {}
    limits = limits or {}
    for resource, factor in factors.items():
        if GROWN_ON.get(resource) not in causes or not settings.get(resource):
            continue
        if resource == "memory":
            grown = _times(settings["memory"], float(factor))
            cap = limits.get("memory")
            if cap and parse_memory(grown) > cap:
                grown = f"{cap // 2**20}M"
                log.warning("memory capped at %s, the most this job's partition gives", grown)
            new["memory"] = grown
        else:
            seconds = math.ceil(parse_time(settings["time"]) * float(factor))
            cap = limits.get("time")
            if cap and seconds > cap:
                seconds = int(cap)
                log.warning("time capped at %s, the most this job's partition gives", hms(seconds))
            new["time"] = hms(seconds)
    return new


def limits_of(job: Job, target: Target) -> dict[str, int] | None:
    try:
        answer = target.hooks.clustrix_resource_limits(job=job, target=target)
    except Exception:
        log.warning("the resource limits for job %s could not be read; escalating uncapped", job.job_id, exc_info=True)
        return None
    return dict(answer) if answer else None


# --- resubmission ---------------------------------------------------------------------------


def resubmit(target: Target, job: Job, retry: Retry) -> None:
    """Submit ``job`` again as its next attempt, for the elements of ``retry``.

    The attempt is recorded (SUBMITTING, with its escalated settings) before anything
    moves, so a process dying here leaves a job that ``attach`` resumes. When another
    process watching the same job recorded this attempt first, ``job`` follows the
    store's record instead of submitting twice. Raises what the submission raised."""
    causes = set(retry.elements.values())
    settings = escalated(job.settings, causes, limits_of(job, target) if _grows(job, causes) else None)
    previous = (job.settings, job.attempt)
    job.settings, job.attempt = settings, job.attempt + 1
    if not target.store.begin_attempt(job, (retry.state, retry.reason), retry.elements):
        job.settings, job.attempt = previous
        log.info("job %s: attempt %d was begun by another process; following it", job.job_id, job.attempt + 1)
        job.native_id = None  # until that process records the attempt's native id: see follow()
        follow(target, job)
        return
    previous_native_id, job.native_id = job.native_id, None  # the new attempt has none yet (as recorded)
    try:
        submit_attempt(target, job, sorted(retry.elements))
    except BaseException:
        job.native_id = previous_native_id  # the calls fail with what the last attempt left (its logs)
        raise


def _grows(job: Job, causes: set[State]) -> bool:
    return any(GROWN_ON.get(r) in causes for r in job.settings.get("escalate") or {})


def submit_attempt(target: Target, job: Job, elements: Sequence[int]) -> None:
    """Set the elements' results of the last attempt aside, stage and submit the current
    attempt, record its native id. Safe to repeat after a crash (see :func:`resume`)."""
    set_aside(target, job, elements, job.attempt - 1)
    target.hooks.clustrix_stage(job=job, target=target)
    native_id = target.hooks.clustrix_submit(job=job, target=target)
    if native_id is None:
        raise PluginContractError(
            f"backend {target.backend!r} returned no id from clustrix_submit (see clustrix.hookspecs)"
        )
    job.native_id = str(native_id)
    target.store.set_native_id(job.job_id, job.native_id, job.attempt)


def set_aside(target: Target, job: Job, elements: Sequence[int], attempt: int) -> None:
    """``results/E.pkl`` -> ``results/E.attempt-K.pkl`` here and on the host; a file already
    set aside is not replaced, so a repeat never moves the next attempt's result."""
    for element in elements:
        local = job.result_path(element)
        aside = local.with_name(Job.set_aside_name(element, attempt))
        if local.exists() and not aside.exists():
            local.rename(aside)
        if str(job.local_dir) != job.remote_dir:
            source = job.remote_result(element)
            target_path = f"{job.remote_results_dir}/{Job.set_aside_name(element, attempt)}"
            script = 'if [ -e "$1" ] && [ ! -e "$2" ]; then mv "$1" "$2"; fi'
            target.transport.run(["sh", "-c", script, "sh", source, target_path]).check()


#: seconds after which an attempt still SUBMITTING is taken for one whose submitter died
RESUME_AFTER = 120.0


def follow(target: Target, job: Job) -> State | None:
    """Bring ``job`` to the store's current attempt (settings, number, native id: None while
    that attempt is being submitted). An attempt left SUBMITTING for ``RESUME_AFTER``
    seconds (its submitter died between recording and submitting it) is submitted here.
    Returns the attempt's state when it ended without a native id (its submission failed
    in the process that made it), else None."""
    recorded, _, _ = target.store.job(job.job_id)
    rows = target.store.attempts(job.job_id)
    row = next(r for r in rows if r["attempt"] == recorded.attempt)
    job.settings, job.attempt, job.native_id = recorded.settings, recorded.attempt, row["native_id"]
    state = State(row["state"])
    if job.native_id is None and state == State.SUBMITTING and job.attempt > 1:
        if time.time() - row["submitted"] > RESUME_AFTER:
            previous = next(r for r in rows if r["attempt"] == job.attempt - 1)
            log.warning("job %s: submitting its attempt %d, recorded but never submitted", job.job_id, job.attempt)
            submit_attempt(target, job, sorted(int(e) for e in json.loads(previous["elements"])))
        return None
    return state if job.native_id is None and state.terminal else None


# --- what a future tells of its attempts -------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One submission of a call's job: its number, native id, how it ended for the call's
    element (SUBMITTING/PENDING/RUNNING while current), why, and the resources it asked for."""

    attempt: int
    native_id: str | None
    state: str
    reason: str
    resources: dict[str, Any]

    def __str__(self) -> str:
        resources = ", ".join(f"{k}={v}" for k, v in self.resources.items())
        return f"attempt {self.attempt}: {self.state}" + (f" with {resources}" if resources else "")


def _ran(rows: Sequence[Any], element: int) -> list[Any]:
    """The attempts that ran ``element``: the first, then each that followed one retrying it."""
    ran: list[Any] = []
    for row in rows:
        if row["attempt"] == 1 or (ran and ran[-1]["attempt"] == row["attempt"] - 1 and _retried(ran[-1], element)):
            ran.append(row)
    return ran


def _retried(row: Any, element: int) -> bool:
    return str(element) in json.loads(row["elements"] or "{}")


def attempts_of(rows: Sequence[Any], element: int, own_state: str | None = None) -> list[Attempt]:
    """The attempts recorded for a job (``Store.attempts``) that ran ``element``, as it lived them.

    An attempt that retried the element records its state there; in the element's last
    attempt it ended as it did for good: ``own_state`` (its call's state in the store), not
    the state of the attempt, which another element may have failed."""
    out = []
    for row in _ran(rows, element):
        states = json.loads(row["elements"] or "{}")
        out.append(
            Attempt(
                attempt=row["attempt"],
                native_id=row["native_id"],
                state=states.get(str(element), own_state or row["state"]),
                reason=row["reason"] or "",
                resources=json.loads(row["resources"] or "{}"),
            )
        )
    return out


# --- the story told by a final failure --------------------------------------------------------


def story(rows: Sequence[Any], job: Job, element: int, last: State, last_reason: str = "") -> list[str]:
    """One line per attempt of ``element``: 'attempt 1: OUT_OF_MEMORY with memory=200MB (slurm 123)'."""
    lines = []
    for row in _ran(rows, element):
        states = json.loads(row["elements"] or "{}")
        if row["attempt"] == job.attempt:
            state, reason = last.value, last_reason
        else:
            state, reason = states.get(str(element), row["state"]), row["reason"]
        resources = ", ".join(f"{k}={v}" for k, v in json.loads(row["resources"] or "{}").items())
        line = f"attempt {row['attempt']}: {state}"
        line += f" with {resources}" if resources else ""
        line += f" ({job.backend} {row['native_id']})" if row["native_id"] else ""
        lines.append(line + (f": {reason}" if reason and state == State.FAILED.value else ""))
    return lines
