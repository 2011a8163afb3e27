"""The embedded local backend: each job runs in a detached worker process on this machine.

It goes through the same life cycle as every backend (package, stage, submit, watch,
fetch) and is the reference implementation. The worker (``clustrix.backends.local_worker``)
runs the job's elements with the local parallel executor; it outlives the submitting
process, so a job survives its submitter and ``clustrix.attach`` finds its result.
Markers in ``status/``: ``worker.json`` (pid, start time), ``cancelled``, ``timeout``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ..executor import LocalExecutor
from ..hookspecs import hookimpl
from ..job import Job, JobStatus, State
from ..runner import load_blob
from ..target import Target


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
        with open(os.path.join(jobdir, "logs", "worker.log"), "ab") as log:
            proc = subprocess.Popen(
                [target.python, "-m", "clustrix.backends.local_worker", jobdir],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: cancel kills all of it
                cwd=os.getcwd(),
                env={
                    **os.environ,
                    "CLUSTRIX_JOB_SETTINGS": json.dumps(job.settings, default=str),
                    "CLUSTRIX_EXECUTOR_MODE": mode,
                },
            )
        self._children[proc.pid] = proc
        return str(proc.pid)

    def _alive(self, job: Job) -> bool:
        pid = int(job.native_id or 0)
        child = self._children.get(pid)
        if child is not None:
            return child.poll() is None
        try:
            with open(os.path.join(job.remote_dir, "status", "worker.json")) as f:
                started = json.load(f).get("start_time")
        except (OSError, ValueError):
            started = None
        now = _start_time(pid)
        return now is not None and (started is None or started == now)

    @hookimpl
    def clustrix_status(self, jobs: Sequence[Job], target: Target) -> dict[str, JobStatus]:
        answer = {}
        for job in jobs:
            status_dir = os.path.join(job.remote_dir, "status")
            markers = set(os.listdir(status_dir)) if os.path.isdir(status_dir) else set()
            alive = self._alive(job)
            ended = (
                State.CANCELLED if "cancelled" in markers else State.TIMEOUT if "timeout" in markers else State.FAILED
            )
            elements = {}
            for e in range(job.n_elements):
                if os.path.exists(os.path.join(job.remote_dir, "results", f"{e}.pkl")):
                    elements[e] = State.COMPLETED
                elif alive:
                    elements[e] = State.RUNNING if f"{e}.started" in markers else State.PENDING
                else:
                    elements[e] = ended
            overall = State.RUNNING if alive else State.COMPLETED
            reason = "" if alive else "the local worker process exited before writing this result"
            answer[job.job_id] = JobStatus(overall, elements, reason)
        return answer

    @hookimpl
    def clustrix_cancel(self, jobs: Sequence[Job], target: Target) -> bool:
        for job in jobs:
            open(os.path.join(job.remote_dir, "status", "cancelled"), "w").close()
            if job.native_id and self._alive(job):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(int(job.native_id), signal.SIGTERM)
        return True


plugin = LocalBackend()
