"""The engine shared by batch-scheduler backends (SLURM, PBS, SGE).

A scheduler plugin subclasses :class:`BatchScheduler` and supplies only what differs
between schedulers: directive lines, the submit/status/accounting/cancel commands and
their parsers, and the array syntax. This module holds the rest, once: the job script
template, array chunking to the site's limit, the per-cycle status logic (result files
first, then one live-status command, then accounting only for jobs that vanished
without a result; the scheduler is asked within the ``status_queries_per_minute``
budget, result files every cycle) and the log reader of the error chain.

A scheduler job is one *chunk*: a plain job for a single task, else an array of up to
``max_array_size`` tasks. ``job.native_id`` is the chunks' ids joined by commas. A task
runs one element, or, in a job packed for claiming (``array_workers`` in its settings,
see ``clustrix.lifecycle.packing``), is a *worker* that claims elements one after
another (``runner.py --worker``): an element's state is then its result file, else the
state of the worker holding its claim, else PENDING while a worker may still take it.
A worker that died holding a claim has it released once, so that a live worker reruns
the element.
"""

from __future__ import annotations

import logging
import re
import shlex
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from .config import ENV_NAME, Setting
from .errors import CheckFailed, CommandOutcomeUnknown, ConfigError, SubmissionRejected, SubmissionUncertain
from .failures import STDERR_TAIL_BYTES, typed_failure
from .hookspecs import hookimpl
from .job import Job, JobStatus, State
from .target import Target, target_key
from .transport import Completed

#: (chunk's native id, task id or None for a plain job) -> state
TaskStates = dict[tuple[str, int | None], State]

log = logging.getLogger("clustrix.batch")
#: seconds to let a submit command that was cut off finish before asking the scheduler for its job
SUBMIT_SETTLE = 2.0
#: how many cancelled scheduler jobs a process remembers (a job it deleted is CANCELLED when
#: the scheduler keeps no record of it)
CANCELLED_MEMORY = 10_000


@dataclass(frozen=True)
class Chunk:
    """Elements ``first .. first + size - 1`` of a job, submitted as one scheduler job."""

    index: int
    first: int
    size: int
    array: bool
    #: the job's attempt (retries): each attempt has its own scripts, so the lookup by
    #: script path after an unknown submit outcome never mistakes one attempt for another
    attempt: int = 1

    def script_name(self) -> str:
        return f"job-{self.index}.sh" if self.attempt == 1 else f"job-{self.index}.a{self.attempt}.sh"


#: what a user value may hold in a directive line: schedulers split directive lines on
#: whitespace and have no quoting, so anything else could change the directive's meaning
_DIRECTIVE_VALUE = re.compile(r"^[A-Za-z0-9_.,:=+@%/*-]+$")


#: a scheduler's job id as a dependency directive may carry it (``1234``, ``1234[].server``)
_NATIVE_ID = re.compile(r"^[A-Za-z0-9_.-]+(\[\])?(\.[A-Za-z0-9_.-]+)?$")


def directive_value(key: str, value: object, scheduler: str) -> str:
    """A user value (queue, account, ...) for a directive line; refused before submission
    when it holds whitespace, quotes, ``$`` or newlines."""
    text = str(value)
    if not _DIRECTIVE_VALUE.match(text):
        raise ConfigError(
            f"{key}: {text!r} is not a valid {scheduler} value (letters, digits and _ . , : = + @ % / * - only)"
        )
    return text


def sanitize_name(name: str, limit: int = 64) -> str:
    """A job name every scheduler accepts: letters, digits, ``_ . -``; starts with a letter."""
    clean = re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip("._-") or "clustrix"
    if not clean[0].isalpha():
        clean = "c" + clean
    return clean[:limit]


class BatchScheduler(ABC):
    """Engine + the interface a scheduler plugin fills in.

    The methods marked abstract are what a plugin must supply: a subclass missing one
    cannot be instantiated (``TypeError`` naming the method), so the plugin fails to load
    instead of failing inside every status poll.
    """

    #: directive prefix, e.g. "#SBATCH"
    prefix: str = ""
    #: environment variable holding the array task id inside a job
    task_id_var: str = ""
    #: first array task id (SGE counts from 1)
    first_task: int = 0
    #: configurable command names: setting key -> default command
    commands: ClassVar[dict[str, str]] = {}
    #: the scheduler dependencies :meth:`dependency_directives` writes: "all" and maybe
    #: "elementwise"; empty: none, the core submits a job once its parents have ended
    dependency_kinds: tuple[str, ...] = ()
    #: (regex on the job's stderr, state it proves) for the log reader
    log_patterns: tuple[tuple[str, State], ...] = ()

    def __init__(self) -> None:
        self._array_limits: dict[str, int] = {}
        #: (job id, element, grace setting) -> when the element started waiting under that grace
        self._waiting_since: dict[tuple[str, int, str], float] = {}
        #: target key -> when the scheduler was last asked about its jobs (see _scheduler_due)
        self._asked_at: dict[str, float] = {}
        #: target key -> (job id, native id) -> the job's status in the last scheduler answer
        #: (keyed by native id too: a retried job's next attempt starts from nothing)
        self._answered: dict[str, dict[tuple[str, str | None], JobStatus]] = {}
        #: target key -> (job id, native id) -> when status was first asked for it (its attempt's age)
        self._seen: dict[str, dict[tuple[str, str | None], float]] = {}
        #: native ids this process cancelled (the newest CANCELLED_MEMORY), see _ask_scheduler
        self._cancelled: dict[str, None] = {}
        #: target key -> job id -> element -> the worker that holds (or last held) its claim, from
        #: the last listing (only the jobs of the last status call: no unbounded growth)
        self._holders: dict[str, dict[str, dict[int, int]]] = {}
        self._lock = threading.Lock()

    # --- what a scheduler plugin supplies ---------------------------------------------

    @abstractmethod
    def directives(self, job: Job, target: Target, chunk: Chunk) -> list[str]:
        """Directive lines (without the prefix) for this chunk: resources, name, logs, array."""

    @abstractmethod
    def submit_argv(self, script: str, job: Job, target: Target, chunk: Chunk) -> list[str]:
        """The submit command for the chunk's script (remote path ``script``), as an argument list."""

    @abstractmethod
    def parse_submit(self, done: Completed) -> str:
        """The native id from a successful submit command's output."""

    @abstractmethod
    def live(self, native_ids: Sequence[str], target: Target) -> TaskStates:
        """States of the live tasks of these jobs, with ONE scheduler command."""

    @abstractmethod
    def finished(self, native_ids: Sequence[str], target: Target, arrays: frozenset[str] = frozenset()) -> TaskStates:
        """Final states of jobs no longer live, from accounting (or the scheduler's memory).

        ``arrays``: the ids among ``native_ids`` submitted as job arrays, derived from the
        jobs, so any process asking about a job (the submitter, ``clustrix status``,
        ``attach``) passes the same: keep no record of your own of what you submitted."""

    @abstractmethod
    def cancel_argv(self, native_ids: Sequence[str], target: Target) -> list[str]:
        """ONE command cancelling all these scheduler jobs, as an argument list."""

    def dependency_directives(self, kind: str, parent_ids: Sequence[str], chunk: Chunk) -> list[str]:
        """Directive lines making ``chunk`` wait for the scheduler jobs ``parent_ids``
        (checked values): ``kind`` is one of :attr:`dependency_kinds`, "all" (every task of
        each must succeed), "elementwise" (task i waits for task i of the one parent,
        chunked alike) or "ended" (every task of each has ended, whatever its exit: asked
        for parents whose workers claim elements, where a task that died may have had its
        element rerun by another; without "ended" in :attr:`dependency_kinds`, "all" is
        asked). Only called when ``dependency_kinds`` is not empty."""
        return []

    def max_array_size(self, target: Target) -> int:
        """Largest array the site accepts (read from the scheduler's config if possible)."""
        return 1000

    def scheduler_logs(self, job: Job, element: int) -> list[str]:
        """Remote paths of the scheduler's own stdout/stderr files for an element."""
        return []

    def submitted_by_script(self, script: str, target: Target) -> list[str]:
        """Ids of this user's live jobs running ``script``: finds a chunk whose submit answer
        could not be read, so that it can be cancelled. Empty if the scheduler cannot tell."""
        return []

    def find_submitted(self, script: str, target: Target) -> list[str] | None:
        """Ids of every job of this user that the scheduler still knows, finished ones included,
        submitted with ``script`` (its path holds Clustrix's job id); raise if the scheduler
        does not answer. Asked after a submit command whose outcome is unknown: an empty list
        means the command never reached the scheduler, so it is sent again. None (the
        default) means the scheduler cannot tell: the submission then fails with
        SubmissionUncertain rather than risk running the job twice."""
        return None

    def reason(self, native_id: str) -> str:
        """Why a chunk is in its state, if live()/finished() learnt it (e.g. SGE's Eqw error reason)."""
        return ""

    # --- helpers for plugins ----------------------------------------------------------

    def command(self, target: Target, key: str) -> str:
        return str(target.settings.get(key) or self.commands[key])

    def run(self, target: Target, argv: Sequence[str], timeout: float = 60, idempotent: bool = True) -> Completed:
        return target.transport.run(list(argv), timeout=timeout, idempotent=idempotent)

    def settings(self) -> list[Setting]:
        return [
            Setting(
                key,
                str,
                None,
                f"Path of `{default}` on the execution host (default: `{default}`).",
                plugin=type(self).__module__,
            )
            for key, default in self.commands.items()
        ]

    @hookimpl
    def clustrix_settings(self) -> list[Setting]:
        return self.settings()

    @hookimpl
    def clustrix_doctor_checks(self, target: Target) -> list[tuple[str, Callable[[], str]]]:
        return [("scheduler commands present", lambda: self.check_commands(target))] if self.commands else []

    def check_commands(self, target: Target) -> str:
        """Where each configurable command is on the host; CheckFailed naming the missing ones."""
        found: list[str] = []
        missing: list[tuple[str, str]] = []
        for key in self.commands:
            name = self.command(target, key)
            done = target.transport.run(["sh", "-c", 'command -v "$1"', "sh", name])
            if done.returncode == 0:
                found.append(done.stdout.strip())
            else:
                missing.append((key, name))
        if missing:
            where = "this machine" if target.is_local else target.transport.where
            raise CheckFailed(
                f"not found on {where}: {', '.join(n for _, n in missing)}",
                f"set {', '.join(f'{k}=/full/path/to/{n}' for k, n in missing)} (see `which` in a login shell "
                "there), or add the scheduler's bin directory to PATH",
            )
        return ", ".join(found)

    # --- the engine: job script ------------------------------------------------------

    @staticmethod
    def workers(job: Job) -> int:
        """How many workers claim the job's elements; 0: one task per element."""
        workers = int(job.settings.get("array_workers") or 0)
        return workers if 0 < workers < job.n_elements else 0

    def n_tasks(self, job: Job) -> int:
        """The scheduler's tasks of the job: its workers, or one per element."""
        return self.workers(job) or job.n_elements

    def chunks(self, job: Job, target: Target) -> list[Chunk]:
        """The scheduler jobs of ``job``: its tasks (elements, or workers) cut to the array limit."""
        tasks = self.n_tasks(job)
        if tasks == 1:
            return [Chunk(0, 0, 1, array=False, attempt=job.attempt)]
        limit = self._array_limit(target)
        return [
            Chunk(i, first, min(limit, tasks - first), array=True, attempt=job.attempt)
            for i, first in enumerate(range(0, tasks, limit))
        ]

    def _array_limit(self, target: Target) -> int:
        if target.dry_run:  # rendering asks the scheduler nothing: one chunk, as without a limit
            return 1 << 31
        with self._lock:
            if target.key not in self._array_limits:
                self._array_limits[target.key] = max(1, self.max_array_size(target))
            return self._array_limits[target.key]

    def script(self, job: Job, target: Target, chunk: Chunk) -> str:
        """The job script: directives, strict preamble, setup, env, cd, the runner."""
        settings = job.settings
        lines = ["#!/bin/bash"]
        lines += [f"{self.prefix} {d}" for d in self.directives(job, target, chunk)]
        lines += [f"{self.prefix} {d}" for d in self._dependency_lines(job, chunk)]
        lines += [f"{self.prefix} {d}" for d in settings.get("extra_directives") or []]
        lines += ["# generated by clustrix for job " + job.job_id, "set -eo pipefail"]
        lines += list(settings.get("setup") or [])
        for name, value in (settings.get("env") or {}).items():
            if not ENV_NAME.match(str(name)):
                raise ConfigError(f"env: {name!r} is not a valid environment variable name")
            lines.append(f"export {name}={shlex.quote(str(value))}")
        jobdir = shlex.quote(job.remote_dir)
        if chunk.array:
            task = f"$(( ${{{self.task_id_var}}} - {self.first_task} + {chunk.first} ))"
        else:
            task = str(chunk.first)
        python = shlex.quote(target.python_for(settings))
        lines.append(f"cd {jobdir}")
        if self.workers(job):  # the task claims elements; the runner points each one's output at its logs
            var, runner_args, log = "CLUSTRIX_WORKER", '--worker "$CLUSTRIX_WORKER"', "worker-$CLUSTRIX_WORKER"
            # a worker starting once every element is claimed leaves without starting Python
            lines.append(
                f'if [ "$(ls claims 2>/dev/null | grep -c "^[0-9][0-9]*$")" -ge {job.n_elements} ]; then '
                'echo "clustrix: every element is claimed: nothing to do"; exit 0; fi'
            )
        else:
            var, runner_args, log = "CLUSTRIX_ELEMENT", '"$CLUSTRIX_ELEMENT"', "$CLUSTRIX_ELEMENT"
        lines += [
            f"{var}={task}",
            f"export {var} CLUSTRIX_JOB_ID=" + shlex.quote(job.job_id),
            f'exec {python} {jobdir}/runner.py {jobdir} {runner_args} >>"logs/{log}.out" 2>>"logs/{log}.err"',
        ]
        return "\n".join(lines) + "\n"

    def _dependency_lines(self, job: Job, chunk: Chunk) -> list[str]:
        """The scheduler dependency of a chunk on the jobs ``job.after`` (element-wise: on
        the parent's chunk of the same index, which holds the same elements)."""
        if not job.after:
            return []
        if job.after_elementwise and "elementwise" in self.dependency_kinds:
            kind, ids = "elementwise", [(job.after[0].native_id or "").split(",")[chunk.index]]
        else:
            ids = [nid for parent in job.after for nid in (parent.native_id or "").split(",") if nid]
            # a parent's worker that died may have had its element rerun by another: its task
            # failed, yet every result is there; the child's runner checks each one it takes
            ended = "ended" in self.dependency_kinds and any(self.workers(parent) for parent in job.after)
            kind = "ended" if ended else "all"
        bad = [nid for nid in ids if not _NATIVE_ID.match(nid)]
        if bad:
            raise ConfigError(f"job ids {bad} of the jobs this one depends on cannot go in a directive")
        return self.dependency_directives(kind, ids, chunk) or []

    @hookimpl
    def clustrix_claims_elements(self, target: Target) -> bool:
        return True

    @hookimpl
    def clustrix_scheduler_dependencies(self, target: Target) -> Sequence[str] | None:
        return self.dependency_kinds or None

    @hookimpl
    def clustrix_render(self, job: Job, target: Target) -> str:
        return self.script(job, target, self.chunks(job, target)[0])

    @hookimpl
    def clustrix_stage(self, job: Job, target: Target) -> None:
        """Write the chunks' scripts into the job dir; the core's default stage copies them."""
        for chunk in self.chunks(job, target):
            path = job.local_dir / chunk.script_name()
            path.write_text(self.script(job, target, chunk))
            path.chmod(0o700)
        return None

    # --- the engine: submit, status, cancel ---------------------------------------------

    @hookimpl
    def clustrix_submit(self, job: Job, target: Target) -> str:
        ids: list[str] = []
        try:
            for chunk in self.chunks(job, target):
                ids.append(self._submit_chunk(job, target, chunk))
        except BaseException:
            self._cancel_submitted(ids, target)  # no chunk of a failed submission is left running
            raise
        return ",".join(ids)

    def _submit_chunk(self, job: Job, target: Target, chunk: Chunk) -> str:
        """Submit one chunk exactly once: the submit command is never repeated blindly. When its
        outcome is unknown (the connection failed after it was sent), the scheduler is asked
        whether it has a job running the chunk's script, and only if not is it sent again."""
        script = job.remote_file(chunk.script_name())
        argv = self.submit_argv(script, job, target, chunk)
        if job.attempt > 1 and (earlier := self._submitted_before(script, target)):
            return earlier  # a retry resumed after its submitter died: the scheduler has it already
        for attempt in (1, 2):
            try:
                done = self.run(target, argv, idempotent=False)
            except CommandOutcomeUnknown as exc:
                found = self._find_after_unknown_outcome(exc, script, job, target, last_try=attempt == 2)
                if found is not None:
                    return found
                continue
            if done.returncode != 0:
                raise SubmissionRejected(
                    (done.stderr or done.stdout).strip() or f"exit code {done.returncode}",
                    job_id=job.job_id,
                )
            return self._parsed_id(done, script, job, target)
        raise AssertionError("unreachable")

    def _submitted_before(self, script: str, target: Target) -> str | None:
        """The id of a job already running ``script`` (a retry's, submitted by a process that
        died before recording it), or None when there is none or the scheduler cannot tell."""
        try:
            found = self.find_submitted(script, target)
        except Exception:
            log.warning("could not ask the scheduler whether %s was submitted already", script, exc_info=True)
            return None
        return found[0] if found else None

    def _find_after_unknown_outcome(
        self, exc: CommandOutcomeUnknown, script: str, job: Job, target: Target, last_try: bool
    ) -> str | None:
        """The chunk's id if the scheduler has it; None if it surely has not (submit again)."""
        time.sleep(SUBMIT_SETTLE)  # a submit command cut off from us may still be talking to the scheduler
        try:
            found = self.find_submitted(script, target)
        except Exception as lookup:
            found, exc = None, CommandOutcomeUnknown(f"{exc}; asking the scheduler failed too: {lookup}")
        if found:
            if len(found) > 1:
                log.error("the scheduler runs %s twice (%s); cancel the extra job", script, ", ".join(found))
            log.warning("%s; the scheduler has it as %s: not submitting it again", exc, found[0])
            return found[0]
        if found is None or last_try:
            raise SubmissionUncertain(f"{exc}. Submit script: {script}", job_id=job.job_id) from exc
        log.warning("%s; the scheduler has no job running %s: submitting it again", exc, script)
        return None

    def _parsed_id(self, done: Completed, script: str, job: Job, target: Target) -> str:
        """The id of a chunk the scheduler accepted; if its answer cannot be read, the chunk
        is looked up by its script and cancelled, and the submission fails saying so."""
        try:
            return self.parse_submit(done)
        except Exception as exc:
            found = self.submitted_by_script(script, target)
            self._cancel_submitted(found, target)
            fate = f"cancelled it ({', '.join(found)})" if found else "found no job running it: cancel it by hand"
            raise SubmissionRejected(
                f"the scheduler accepted {script} but its answer holds no job id Clustrix can read ({exc}; "
                f"it printed {done.stdout.strip()[-500:]!r}); Clustrix {fate}",
                job_id=job.job_id,
            ) from exc

    def _cancel_submitted(self, ids: Sequence[str], target: Target) -> None:
        if not ids:
            return
        try:
            done = self.run(target, self.cancel_argv(ids, target))
        except Exception as exc:  # the submission's own error is the one to raise
            log.error("could not cancel %s after a failed submission: %s; cancel them by hand", ", ".join(ids), exc)
            return
        if done.returncode != 0:
            log.error("cancelling %s after a failed submission: %s", ", ".join(ids), done.stderr or done.stdout)

    def _tasks(self, job: Job, target: Target) -> dict[tuple[str, int | None], int]:
        """Map (chunk id, task id) to the job's task index (its element, or its worker)."""
        mapping: dict[tuple[str, int | None], int] = {}
        ids = (job.native_id or "").split(",")
        for chunk, native in zip(self.chunks(job, target), ids, strict=False):
            if not chunk.array:
                mapping[(native, None)] = chunk.first
                continue
            for offset in range(chunk.size):
                mapping[(native, self.first_task + offset)] = chunk.first + offset
        return mapping

    def _holder(self, job: Job, element: int) -> int | None:
        """The worker that holds (or last held) ``element``'s claim, as last listed."""
        return self._holders.get(target_key(job.settings), {}).get(job.job_id, {}).get(element)

    def element_location(self, job: Job, element: int) -> tuple[str, int | None] | None:
        """(chunk's native id, task id or None) that runs ``element``: for scheduler log paths.

        Uses the array limit cached for the job's target by submit/status, and for a job
        packed for claiming the worker that last held the element's claim; None if unknown.
        """
        task = self._holder(job, element) if self.workers(job) else element
        if task is None:
            return None
        ids = (job.native_id or "").split(",")
        if self.n_tasks(job) == 1:
            return ids[0], None
        limit = self._array_limits.get(target_key(job.settings)) if len(ids) > 1 else self.n_tasks(job)
        if not limit or task // limit >= len(ids):
            return None
        return ids[task // limit], self.first_task + task % limit

    @hookimpl
    def clustrix_status(self, jobs: Sequence[Job], target: Target) -> dict[str, JobStatus]:
        """Result files every cycle; the scheduler (one live command, accounting only for the
        jobs that vanished without a result) only when the polling budget allows."""
        dirs = [job.remote_results_dir for job in jobs]
        dirs += [job.remote_claims_dir for job in jobs if self.workers(job)]
        listing = target.transport.listdirs(dirs)
        with self._lock:
            watched = {job.job_id for job in jobs}
            held = self._holders.get(target.key, {})
            self._holders[target.key] = {job_id: h for job_id, h in held.items() if job_id in watched}
        if not self._scheduler_due(jobs, target):
            last = self._answered.get(target.key, {})
            return {job.job_id: self._from_files(job, last.get((job.job_id, job.native_id)), listing) for job in jobs}
        answer = self._ask_scheduler(jobs, target, listing)
        # only the jobs asked about now: no unbounded growth
        self._answered[target.key] = {(job.job_id, job.native_id): answer[job.job_id] for job in jobs}
        return answer

    def _scheduler_due(self, jobs: Sequence[Job], target: Target) -> bool:
        """Whether this cycle may ask the scheduler: the interval between two queries is half
        the age of the youngest job (of its current attempt: a retried job's next one is
        young), from ``poll_interval`` (a young job's fast failure is seen fast) up to
        ``60 / status_queries_per_minute`` seconds, reached within the first minute with the
        default budget. However many jobs are watched, a site's controller sees a bounded
        rate from each user; result files, read every cycle, still tell a finished call at once."""
        settings = target.settings
        now = time.time()
        with self._lock:
            seen = self._seen.setdefault(target.key, {})
            since = {(j.job_id, j.native_id): seen.get((j.job_id, j.native_id), now) for j in jobs}
            self._seen[target.key] = since  # the jobs watched now: no unbounded growth
        youngest = max((max(j.created, since[(j.job_id, j.native_id)]) for j in jobs), default=now)
        most = 60.0 / float(settings.get("status_queries_per_minute") or 2)
        interval = min(most, max(float(settings.get("poll_interval") or 0.05), (now - youngest) * 0.5))
        with self._lock:
            asked = self._asked_at.get(target.key)
            if asked is not None and time.monotonic() - asked < interval:
                return False
            self._asked_at[target.key] = time.monotonic()
        return True

    def _from_files(self, job: Job, last: JobStatus | None, listing: dict[str, set[str]]) -> JobStatus:
        """Between scheduler queries: an element with its result file is COMPLETED, any other
        is where the last answer left it (PENDING before the first)."""
        have = listing.get(job.remote_results_dir, set())
        elements = {
            e: State.COMPLETED if f"{e}.pkl" in have else (last.of(e) if last else State.PENDING)
            for e in range(job.n_elements)
        }
        overall = State.RUNNING if any(not s.terminal for s in elements.values()) else State.COMPLETED
        return JobStatus(overall, elements, last.reason if last else "")

    def _ask_scheduler(self, jobs: Sequence[Job], target: Target, listing: dict[str, set[str]]) -> dict[str, JobStatus]:
        """Live states in one command; result files decide; accounting only for the vanished."""
        mappings = {job.job_id: self._tasks(job, target) for job in jobs}
        native_ids = sorted({nid for m in mappings.values() for nid, _ in m})
        live = self.live(native_ids, target) if native_ids else {}
        states: dict[str, dict[int, State]] = {}
        vanished: set[str] = set()
        for job in jobs:
            # a task running one element is done when its result is there; a worker may take more
            have = set() if self.workers(job) else listing.get(job.remote_results_dir, set())
            states[job.job_id] = {}
            for key, task in mappings[job.job_id].items():
                if f"{task}.pkl" in have:
                    states[job.job_id][task] = State.COMPLETED
                elif key in live or (key[0], None) in live:
                    states[job.job_id][task] = live.get(key, live.get((key[0], None), State.PENDING))
                else:
                    vanished.add(key[0])
        arrays = frozenset(nid for m in mappings.values() for nid, task in m if task is not None and nid in vanished)
        final = self.finished(sorted(vanished), target, arrays) if vanished else {}
        answer = {}
        for job in jobs:
            tasks = states[job.job_id]
            reasons = [r for nid in (job.native_id or "").split(",") if nid and (r := self.reason(nid))]
            for key, task in mappings[job.job_id].items():
                if task not in tasks and key[0] in vanished:
                    found = final.get(key, final.get((key[0], None)))
                    if key[0] in self._cancelled and (found is None or not found.terminal):
                        # deleted here before it ran: a scheduler may never record it (SGE's qacct)
                        found = State.CANCELLED
                    # unknown to accounting too: treat as lost, unless it is a fresh submit
                    tasks[task] = found if found is not None else State.LOST
                    if not self._accounting_caught_up(job, task, tasks[task]):
                        tasks[task] = State.LOST
                        reasons.append(
                            f"the scheduler no longer lists job {key[0]} and its accounting still said "
                            f"{found} after accounting_grace ({job.settings.get('accounting_grace')} s)"
                        )
            have = listing.get(job.remote_results_dir, set())
            if self.workers(job):
                elements = self._claimed(job, target, tasks, have, listing.get(job.remote_claims_dir, set()), reasons)
            else:
                elements = tasks
            self._await_lagging_results(job, elements, have)
            overall = State.RUNNING if any(not s.terminal for s in elements.values()) else State.COMPLETED
            answer[job.job_id] = JobStatus(overall, elements, "; ".join(reasons))
        return answer

    def _claimed(
        self, job: Job, target: Target, workers: dict[int, State], have: set[str], claims: set[str], reasons: list[str]
    ) -> dict[int, State]:
        """Element states of a job whose workers claim elements: its result file, else the
        state of the worker holding its claim (``claims/E.W``), else PENDING while a worker
        lives (LOST once none does). The claim of a worker that ended without the element's
        result is released, once, while another worker lives: that one reruns the element."""
        holders: dict[int, int] = {}
        released: dict[int, int] = {}
        for name in claims:
            parts = name.split(".")
            if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
                holders[int(parts[0])] = int(parts[1])
            elif len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit() and parts[2] == "released":
                released[int(parts[0])] = int(parts[1])
        with self._lock:  # for the error chain's log paths (element_location)
            self._holders.setdefault(target.key, {})[job.job_id] = {**released, **holders}
        alive = any(not state.terminal for state in workers.values())
        # an element no worker is left to take ends as the job did: cancelled, else lost
        gone = State.CANCELLED if State.CANCELLED in workers.values() else State.LOST
        elements: dict[int, State] = {}
        release: list[tuple[int, int]] = []
        for element in range(job.n_elements):
            if f"{element}.pkl" in have:
                elements[element] = State.COMPLETED
            elif element in holders:
                state = workers.get(holders[element], State.LOST)
                if state.terminal and state != State.COMPLETED and alive and f"{element}.released" not in claims:
                    release.append((element, holders[element]))
                    state = State.PENDING
                elements[element] = state
            elif alive:  # claimed a moment ago (its holder is being marked), or free to take
                elements[element] = State.RUNNING if str(element) in claims else State.PENDING
            else:  # the state of the worker that died holding it
                elements[element] = workers.get(released[element], gone) if element in released else gone
        if release:
            self._release(job, target, release)
            reasons.append(
                "released the elements of workers that ended without their result, for a live worker to rerun: "
                + ", ".join(f"element {e} (worker {w}: {workers.get(w)})" for e, w in release)
            )
        return elements

    def _release(self, job: Job, target: Target, claims: Sequence[tuple[int, int]]) -> None:
        """Release the claims ``E`` of workers that ended, in one command: ``E.released`` is
        made with ``ln`` (which fails if it exists: a worker took the element over, or it was
        released before), then ``E`` is removed, so a live worker may claim it again."""
        script = (
            'cd "$1" && shift && while [ $# -gt 1 ]; do '
            'if ln -- "$1" "$1.released" 2>/dev/null; then rm -f -- "$1"; mv -f -- "$1.$2" "$1.$2.released"; fi; '
            "shift 2; done"
        )
        argv = ["sh", "-c", script, "sh", job.remote_claims_dir, *(str(x) for pair in claims for x in pair)]
        done = target.transport.run(argv)
        if done.returncode != 0:
            log.warning("releasing claims of job %s: %s", job.job_id, (done.stderr or done.stdout).strip())

    def _waiting(self, job: Job, element: int, grace_setting: str, waits: bool) -> bool:
        """True while ``element`` has waited (``waits``) for less than the job's ``grace_setting``
        seconds; the clock starts at the first cycle it waits and stops when it no longer does."""
        key = (job.job_id, element, grace_setting)
        if not waits:
            self._waiting_since.pop(key, None)
            return False
        first = self._waiting_since.setdefault(key, time.monotonic())
        if time.monotonic() - first < float(job.settings.get(grace_setting) or 0):
            return True
        del self._waiting_since[key]
        return False

    def _accounting_caught_up(self, job: Job, element: int, state: State) -> bool:
        """False once accounting has called a job the scheduler no longer lists non-final for
        longer than ``accounting_grace``: accounting records a job's end asynchronously, but a
        record that never ends (a runaway record) must not keep a future waiting forever."""
        waits = not state.terminal
        return self._waiting(job, element, "accounting_grace", waits) or not waits

    def _await_lagging_results(self, job: Job, elements: dict[int, State], have: set[str]) -> None:
        """Hold a COMPLETED element whose result file is not visible yet as RUNNING, for up to
        ``result_grace`` seconds: on a shared filesystem the file written on the compute node
        can show up on the submit host after the scheduler reports the job done."""
        for element, state in elements.items():
            waits = state == State.COMPLETED and f"{element}.pkl" not in have
            if self._waiting(job, element, "result_grace", waits):
                elements[element] = State.RUNNING

    @hookimpl
    def clustrix_cancel(self, jobs: Sequence[Job], target: Target) -> bool:
        """One cancel command for all; a scheduler that no longer knows a job (it ended
        meanwhile) is not an error: the next status poll reports the job's final state."""
        ids = [nid for job in jobs for nid in (job.native_id or "").split(",") if nid]
        if ids:
            done = self.run(target, self.cancel_argv(ids, target))
            if done.returncode != 0:
                log.warning("cancel of %s: %s", ", ".join(ids), (done.stderr or done.stdout).strip())
            with self._lock:
                self._cancelled.update(dict.fromkeys(ids))
                for old in list(self._cancelled)[: max(0, len(self._cancelled) - CANCELLED_MEMORY)]:
                    del self._cancelled[old]
        return True

    @hookimpl
    def clustrix_extract_error(
        self, job: Job, target: Target, call_index: int, status: JobStatus, outcome: Any
    ) -> BaseException | None:
        """Log reader: the element's stderr and the scheduler's, refined by known messages."""
        if outcome is not None:
            return None
        element = job.element_of(call_index)
        paths = [job.remote_log(element), *self.scheduler_logs(job, element)]
        worker = self._holder(job, element) if self.workers(job) else None
        if worker is not None:  # what the worker printed outside the element (the runner's own errors)
            paths.append(job.remote_log(f"worker-{worker}"))
        texts = [target.transport.read_text(p, STDERR_TAIL_BYTES) or "" for p in paths]
        tail = "\n".join(t.rstrip() for t in texts if t.strip())[-STDERR_TAIL_BYTES:]
        state = status.of(element)
        for pattern, proven in self.log_patterns:
            if re.search(pattern, tail):
                state = proven
                break
        if not tail.strip() and state in (State.COMPLETED, State.LOST):
            return None  # nothing to read: let the generic answer speak
        refined = JobStatus(state, {element: state}, status.reason)
        return typed_failure(job, call_index, refined, tail)
