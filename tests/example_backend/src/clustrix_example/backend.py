"""Backend ``example``: each array element is its own detached ``nohup`` process.

Written from :mod:`clustrix.hookspecs` (the manual) and :mod:`clustrix.plugin` (the one
module a backend imports) alone. Only the hooks every backend must have
(``REQUIRED_HOOKS``): submit, status, cancel. Staging, fetching, the error chain and
cleanup come from the core's defaults through ``target.transport``, so this backend also
works on a remote host once ``cluster_host`` is set. Paths come from the job's layout
helpers (``job.remote_log``, ``job.remote_status``, ...), never spelled by hand.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from clustrix.plugin import Job, JobStatus, State, Target, hookimpl


class ExampleBackend:
    @hookimpl
    def clustrix_submit(self, job: Job, target: Target) -> str:
        """Spec: :func:`clustrix.hookspecs.clustrix_submit` (required; return the native id)."""
        python = shlex.quote(target.python_for(job.settings))
        starts = [
            f"{{ setsid nohup {python} {q(job.remote_file('runner.py'))} {q(job.remote_dir)} {e} "
            f">{q(job.remote_log(e, 'out'))} 2>{q(job.remote_log(e))} </dev/null & "
            f"echo $! >{q(job.remote_status(f'{e}.pid'))}; }}"
            for e in range(job.n_elements)
        ]
        setup = job.settings.get("setup") or []
        env = [f"export {k}={shlex.quote(str(v))}" for k, v in (job.settings.get("env") or {}).items()]
        prelude = ["set -e", f"cd {q(job.remote_dir)}", *env, *([setup] if isinstance(setup, str) else setup)]
        target.transport.run(["sh", "-c", "\n".join([*prelude, *starts])]).check()
        return f"example-{job.job_id}"

    @hookimpl
    def clustrix_status(self, jobs: Sequence[Job], target: Target) -> dict[str, JobStatus]:
        """Spec: :func:`clustrix.hookspecs.clustrix_status` (required; batched: one listing for all jobs)."""
        listing = target.transport.listdirs([d for j in jobs for d in (j.remote_results_dir, j.remote_status_dir)])
        answer = {}
        for job in jobs:
            results, markers = listing[job.remote_results_dir], listing[job.remote_status_dir]
            pids = {e: job.remote_status(f"{e}.pid") for e in range(job.n_elements)}
            alive = self._alive(target, pids.values())
            elements = {}
            for e, pid_file in pids.items():
                if f"{e}.pkl" in results:
                    elements[e] = State.COMPLETED
                elif "cancelled" in markers:
                    elements[e] = State.CANCELLED
                else:
                    elements[e] = State.RUNNING if pid_file in alive else State.FAILED
            answer[job.job_id] = JobStatus(State.RUNNING, elements)
        return answer

    def _alive(self, target: Target, pid_files: Sequence[str] | object) -> set[str]:
        script = 'for f in "$@"; do [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && echo "$f"; done; true'
        done = target.transport.run(["sh", "-c", script, "sh", *pid_files]).check()  # type: ignore[misc]
        return set(done.stdout.split())

    @hookimpl
    def clustrix_cancel(self, jobs: Sequence[Job], target: Target) -> bool:
        """Spec: :func:`clustrix.hookspecs.clustrix_cancel` (required; a job already ended is not an error)."""
        for job in jobs:
            status = q(job.remote_status_dir)
            script = f"touch {status}/cancelled; for f in {status}/*.pid; do kill -TERM -- -$(cat $f) 2>/dev/null; done; true"
            target.transport.run(["sh", "-c", script]).check()
        return True


def q(path: str) -> str:
    return shlex.quote(path)


plugin = ExampleBackend()
