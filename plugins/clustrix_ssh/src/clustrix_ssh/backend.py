"""The SSH backend: a job runs detached (setsid + nohup) on a plain SSH host.

Modelled on the local backend: the core stages the job directory through the target's
transport (one shared SSH connection), ``clustrix_submit`` writes the job script and
starts it in its own session, and the job is tracked by its pid and the marker files
in ``status/``. One remote command answers the status of every job of a host, one
cancels many jobs (their process groups). Logs go to ``logs/E.out|err`` unbuffered, so
they can be read while the job runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clustrix.plugin import (
    STDERR_TAIL_BYTES,
    CommandOutcomeUnknown,
    Job,
    JobStatus,
    State,
    SubmissionRejected,
    Target,
    hookimpl,
    typed_failure,
)

from . import scripts


def _ended_state(markers: set[str]) -> State:
    if "status/cancelled" in markers:
        return State.CANCELLED
    if "status/timeout" in markers:
        return State.TIMEOUT
    return State.FAILED


class SSHBackend:
    @hookimpl
    def clustrix_render(self, job: Job, target: Target) -> str:
        return scripts.job_script(job, target.python_for(job.settings), job.settings)

    @hookimpl
    def clustrix_submit(self, job: Job, target: Target) -> str:
        script = self.clustrix_render(job, target)
        launch = scripts.argv_for(scripts.LAUNCH, [job.remote_dir, scripts.claim(job)])
        try:
            done = target.transport.run(launch, input=script, timeout=60, idempotent=False)
        except CommandOutcomeUnknown:  # LAUNCH starts a job once: sent again, it reports the start that got through
            done = target.transport.run(launch, input=script, timeout=60, idempotent=False)
        pid = done.stdout.strip()
        if done.returncode != 0 or not pid.isdigit():
            raise SubmissionRejected(
                f"could not start the job on {target.transport.where}: "
                f"{(done.stderr or done.stdout).strip() or f'exit code {done.returncode}'}"
            )
        return pid

    @hookimpl
    def clustrix_status(self, jobs: Sequence[Job], target: Target) -> dict[str, JobStatus]:
        done = target.transport.run(scripts.argv_for(scripts.STATUS, [j.remote_dir for j in jobs])).check()
        answer = {}
        for job, (alive, markers, exit_code) in zip(jobs, scripts.parse_status(done.stdout, len(jobs)), strict=True):
            how = f"with exit code {exit_code}" if exit_code is not None else "(killed or lost)"
            answer[job.job_id] = JobStatus.of_process(
                job,
                alive,
                finished={e for e in range(job.n_elements) if f"results/{e}.pkl" in markers},
                started={e for e in range(job.n_elements) if f"status/{e}.started" in markers},
                ended=_ended_state(markers),
                reason=f"the job's process on {target.transport.where} ended {how} before writing this result",
            )
        return answer

    @hookimpl
    def clustrix_extract_error(
        self, job: Job, target: Target, call_index: int, status: JobStatus, outcome: tuple[Any, ...] | None
    ) -> BaseException | None:
        """Before the generic answer: the job script's own log (a failing setup line, a missing python)."""
        if outcome is not None:
            return None
        log = target.transport.read_text(job.remote_log("job", "log"), STDERR_TAIL_BYTES) or ""
        if not log.strip():
            return None
        element = job.element_of(call_index)
        err = target.transport.read_text(job.remote_log(element), STDERR_TAIL_BYTES) or ""
        return typed_failure(job, call_index, status, f"{err}{log}")

    @hookimpl
    def clustrix_cancel(self, jobs: Sequence[Job], target: Target) -> bool:
        target.transport.run(scripts.argv_for(scripts.CANCEL, [j.remote_dir for j in jobs]), timeout=60).check()
        return True
