"""Backend ``example``: each array element is its own detached ``nohup`` process.

Only the hooks a backend must have: submit, status, cancel. Staging, fetching, the
error chain and cleanup come from the core's defaults through ``target.transport``,
so this backend also works on a remote host once ``cluster_host`` is set.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from clustrix.plugin import Job, JobStatus, State, Target, hookimpl


class ExampleBackend:
    @hookimpl
    def clustrix_submit(self, job: Job, target: Target) -> str:
        d = shlex.quote(job.remote_dir)
        starts = [
            f"cd {d} && {{ setsid nohup {shlex.quote(target.python)} runner.py {d} {e} "
            f">logs/{e}.out 2>logs/{e}.err </dev/null & echo $! >status/{e}.pid; }}"
            for e in range(job.n_elements)
        ]
        setup = job.settings.get("setup") or []
        env = [f"export {k}={shlex.quote(str(v))}" for k, v in (job.settings.get("env") or {}).items()]
        prelude = ["set -e", *env, *([setup] if isinstance(setup, str) else setup)]  # as every backend does
        target.transport.run(["sh", "-c", "\n".join([*prelude, *starts])]).check()
        return f"example-{job.job_id}"

    @hookimpl
    def clustrix_status(self, jobs: Sequence[Job], target: Target) -> dict[str, JobStatus]:
        listing = target.transport.listdirs([f"{j.remote_dir}/{d}" for j in jobs for d in ("results", "status")])
        answer = {}
        for job in jobs:
            results, markers = listing[f"{job.remote_dir}/results"], listing[f"{job.remote_dir}/status"]
            pids = {e: f"{job.remote_dir}/status/{e}.pid" for e in range(job.n_elements)}
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
        for job in jobs:
            d = shlex.quote(job.remote_dir)
            script = f"touch {d}/status/cancelled; for f in {d}/status/*.pid; do kill -TERM -- -$(cat $f) 2>/dev/null; done; true"
            target.transport.run(["sh", "-c", script]).check()
        return True


plugin = ExampleBackend()
