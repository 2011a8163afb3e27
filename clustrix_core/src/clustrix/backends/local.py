"""The embedded local backend: each job runs in a detached worker process on this machine.

It goes through the same life cycle as every backend (package, stage, submit, watch,
fetch) and is the reference implementation. The worker (``clustrix.backends.local_worker``)
runs the elements in processes it supervises; it outlives the submitting process, so a
job survives its submitter and ``clustrix.attach`` finds its result. Like every backend it
applies the job's ``env`` (variables of the worker and so of the function) and ``setup``
(shell lines run by bash before the worker starts; one failing fails the job, its output
in ``logs/worker.log``). Markers in ``status/``: ``worker.json`` (pid, start time),
``cancelled``, ``timeout``, ``E.ended`` (the signal or exit code that ended element E's
process without a result: only that element fails, and its error names the signal).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..executor import LocalExecutor
from ..failures import STDERR_TAIL_BYTES, typed_failure
from ..hookspecs import hookimpl
from ..job import Job, JobStatus, State
from ..runner import load_blob
from ..target import Target
from .local_worker import open_log

#: seconds an element that ended without a result waits for its log writer to finish
OUTPUT_GRACE = 5.0


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


class LocalBackend:
    def __init__(self) -> None:
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._ended_at: dict[tuple[str, int], float] = {}

    def _mode(self, job: Job) -> str:
        """Threads or processes for a multi-element job, chosen here where plugins are loaded."""
        if job.n_elements == 1:
            return "processes"
        manifest = json.loads((Path(job.remote_dir) / "manifest.json").read_text())
        func = load_blob(job.remote_dir, manifest, manifest["function"])
        return LocalExecutor(mode=job.settings.get("executor")).mode_for(func)  # type: ignore[arg-type]

    @hookimpl
    def clustrix_submit(self, job: Job, target: Target) -> str:
        jobdir = job.remote_dir
        mode = self._mode(job)
        argv = with_setup(
            job.settings, [target.python_for(target.settings), "-m", "clustrix.backends.local_worker", jobdir]
        )
        log = open_log(job.remote_log("worker", "log"))
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: cancel kills all of it
                cwd=os.getcwd(),
                env={
                    **os.environ,
                    **job_env(job.settings),
                    "CLUSTRIX_JOB_SETTINGS": json.dumps(job.settings, default=str),
                    "CLUSTRIX_EXECUTOR_MODE": mode,
                },
            )
        finally:
            os.close(log)
        self._children[proc.pid] = proc
        return str(proc.pid)

    def _alive(self, job: Job) -> bool:
        pid = int(job.native_id or 0)
        child = self._children.get(pid)
        if child is not None:
            return child.poll() is None
        try:
            with open(job.remote_status("worker.json")) as f:
                started = json.load(f).get("start_time")
        except (OSError, ValueError):
            started = None
        now = _start_time(pid)
        return now is not None and (started is None or started == now)

    @hookimpl
    def clustrix_status(self, jobs: Sequence[Job], target: Target) -> dict[str, JobStatus]:
        answer = {}
        for job in jobs:
            status_dir = job.remote_status_dir
            markers = set(os.listdir(status_dir)) if os.path.isdir(status_dir) else set()
            alive = self._alive(job)
            ended = (
                State.CANCELLED if "cancelled" in markers else State.TIMEOUT if "timeout" in markers else State.FAILED
            )
            reason = "the local worker process exited before writing this result" + self._worker_end(job)
            answer[job.job_id] = JobStatus.of_process(
                job,
                alive,
                finished={e for e in range(job.n_elements) if os.path.exists(job.remote_result(e))},
                started=_elements_marked(markers, "started"),
                element_ended=_elements_marked(markers, "ended"),
                still_writing=functools.partial(self._output_pending, job),
                ended=ended,
                reason=reason,
            )
        return answer

    def _output_pending(self, job: Job, element: int) -> bool:
        """Whether another process still holds the element's logs open, for at most
        ``OUTPUT_GRACE`` s after its process ended: the runner's log writer survives a
        killed job to write what was in its pipes, and the error should quote it."""
        key = (job.job_id, element)
        first = self._ended_at.setdefault(key, time.monotonic())
        logs = [job.remote_log(element, s) for s in ("out", "err")]
        if time.monotonic() - first < OUTPUT_GRACE and open_elsewhere(logs):
            return True
        self._ended_at.pop(key, None)
        return False

    def _worker_end(self, job: Job) -> str:
        child = self._children.get(int(job.native_id or 0))
        code = child.returncode if child is not None else None
        if code is None or code == 0:
            return ""
        if code < 0:
            with contextlib.suppress(ValueError):
                return f" (the worker was killed by {signal.Signals(-code).name})"
        return f" (the worker exited with code {code})"

    @hookimpl
    def clustrix_extract_error(
        self, job: Job, target: Target, call_index: int, status: JobStatus, outcome: tuple[Any, ...] | None
    ) -> BaseException | None:
        """A call whose process ended without a result: which signal (or exit code) ended it,
        with its stderr; when the worker itself failed (e.g. a ``setup`` line), its log."""
        if outcome is not None:
            return None
        element = job.element_of(call_index)
        read = target.transport.read_text
        stderr = read(job.remote_log(element), STDERR_TAIL_BYTES) or ""
        try:
            end = json.loads(Path(job.remote_status(f"{element}.ended")).read_text())
        except (OSError, ValueError):
            end = None
        if end is not None and status.of(element) == State.FAILED:
            if "signal" in end:
                how = f"killed by signal {end['signal']} ({end.get('description') or 'no description'})"
            else:
                how = f"exited with code {end.get('exit')}"
            message = f"the process running call {call_index} was {how} before writing its result"
            return typed_failure(job, call_index, status, stderr, message)
        worker_log = read(job.remote_log("worker", "log"), STDERR_TAIL_BYTES) or ""
        if status.of(element) == State.FAILED and worker_log.strip() and not stderr.strip():
            return typed_failure(job, call_index, status, worker_log, status.reason)
        return None

    @hookimpl
    def clustrix_cancel(self, jobs: Sequence[Job], target: Target) -> bool:
        for job in jobs:
            open(job.remote_status("cancelled"), "w").close()
            if job.native_id and self._alive(job):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(int(job.native_id), signal.SIGTERM)
        return True


def open_elsewhere(paths: Sequence[str]) -> bool:
    """Whether a process other than this one has any of these files open (from /proc)."""
    wanted = set()
    for path in paths:
        with contextlib.suppress(OSError):
            info = os.stat(path)
            wanted.add((info.st_dev, info.st_ino))
    if not wanted:
        return False
    me = str(os.getpid())
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid == me:
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            with contextlib.suppress(OSError):
                info = os.stat(f"/proc/{pid}/fd/{fd}")
                if (info.st_dev, info.st_ino) in wanted:
                    return True
    return False


def job_env(settings: Mapping[str, Any]) -> dict[str, str]:
    """The job's ``env`` setting as environment variables (names were checked by config)."""
    return {str(k): str(v) for k, v in (settings.get("env") or {}).items()}


def with_setup(settings: Mapping[str, Any], argv: list[str]) -> list[str]:
    """``argv`` run after the job's ``setup`` lines, in one bash (sh without bash) that
    stops at the first failing line, as in a batch job script."""
    setup = settings.get("setup") or []
    lines = [setup] if isinstance(setup, str) else list(setup)
    if not lines:
        return argv
    shell = shutil.which("bash")
    preamble = "set -eo pipefail" if shell else "set -e"
    script = "\n".join([preamble, *lines, 'exec "$@"'])
    return [shell or "/bin/sh", "-c", script, "clustrix-setup", *argv]


plugin = LocalBackend()


def _elements_marked(markers: set[str], what: str) -> set[int]:
    """The elements with an ``E.<what>`` marker file in the job's status dir."""
    return {int(m.split(".")[0]) for m in markers if m.endswith(f".{what}") and m.split(".")[0].isdigit()}
