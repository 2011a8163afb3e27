"""The SLURM scheduler: #SBATCH directives and the sbatch/squeue/sacct/scontrol/scancel commands.

Everything else (job script, arrays chunked to MaxArraySize, status logic, error chain)
is the core's batch engine. Status per poll cycle is one ``squeue -t all`` for every
outstanding job: it reports live jobs and, for MinJobAge seconds, finished ones, so
accounting (``sacct``, else ``scontrol show job``) is asked only about jobs the
controller has already forgotten and that left no result file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import ClassVar

from clustrix.plugin import (
    BatchScheduler,
    Chunk,
    Completed,
    ConfigError,
    Job,
    Setting,
    State,
    Target,
    TaskStates,
    directive_value,
    hms,
    hookimpl,
    lead_time,
    mebibytes,
    parse_memory,
    parse_time,
    sanitize_name,
)

from . import parsing

log = logging.getLogger("clustrix.slurm")

#: characters a directive value may hold without quoting (no spaces, quotes, newlines)
_PLAIN = re.compile(r"^[A-Za-z0-9_.,:=+@%/-]+$")


def _value(key: str, value: object) -> str:
    return directive_value(key, value, "Slurm")


def _path(path: str) -> str:
    """A path for --output/--error/--chdir, double-quoted when it holds spaces (sbatch reads quotes)."""
    if _PLAIN.match(path):
        return path
    if any(c in path for c in '"\\\n\r$`'):
        raise ConfigError(f"remote_work_dir: {path!r} holds characters Slurm directives cannot carry")
    return f'"{path}"'


class SlurmScheduler(BatchScheduler):
    prefix = "#SBATCH"
    task_id_var = "SLURM_ARRAY_TASK_ID"
    first_task = 0
    commands: ClassVar[dict[str, str]] = {
        "sbatch": "sbatch",
        "squeue": "squeue",
        "sacct": "sacct",
        "scontrol": "scontrol",
        "scancel": "scancel",
    }
    log_patterns = (
        (r"DUE TO TIME LIMIT", State.TIMEOUT),
        (r"DUE TO PREEMPTION", State.PREEMPTED),
        (r"DUE TO NODE FAILURE", State.NODE_FAIL),
        (r"oom-kill|Out Of Memory|OUT_OF_MEMORY|oom_kill", State.OUT_OF_MEMORY),
        (r"CANCELLED AT", State.CANCELLED),
    )

    # --- directives and submit ----------------------------------------------------------

    def settings(self) -> list[Setting]:
        plugin = type(self).__module__
        return [
            *super().settings(),
            Setting(
                "partition", str, None, "Partition the job runs in (sbatch --partition).", "resources", plugin=plugin
            ),
            Setting("qos", str, None, "Quality of service (sbatch --qos).", "resources", plugin=plugin),
        ]

    def directives(self, job: Job, target: Target, chunk: Chunk) -> list[str]:
        s = job.settings
        logs = f"{job.remote_logs_dir}/slurm-" + ("%A_%a" if chunk.array else "%j")
        lines = [
            f"--job-name={self._name(job)}",
            f"--chdir={_path(job.remote_dir)}",
            f"--output={_path(logs + '.out')}",
            f"--error={_path(logs + '.err')}",
            "--ntasks=1",
            f"--cpus-per-task={int(s.get('cores') or 1)}",
            "--no-requeue",  # Slurm never reruns it behind Clustrix's back: retries are attempts (retries=)
        ]
        if s.get("memory"):
            lines.append(f"--mem={mebibytes(parse_memory(s['memory']))}M")
        if s.get("time"):
            lines.append(f"--time={hms(parse_time(s['time']))}")
        if lead_time(s):  # B: to the batch shell, which execs the runner: checkpoint.stopping()
            lines.append(f"--signal=B:USR1@{lead_time(s)}")
        for key in ("partition", "account", "qos"):
            if s.get(key):
                lines.append(f"--{key}={_value(key, s[key])}")
        if s.get("gpus"):
            lines.append(f"--gres=gpu:{int(s['gpus'])}")
        if s.get("nodes"):
            lines.append(f"--nodes={int(s['nodes'])}")
        if chunk.array:
            last = self.first_task + chunk.size - 1
            limit = f"%{int(s['max_concurrent'])}" if s.get("max_concurrent") else ""
            lines.append(f"--array={self.first_task}-{last}{limit}")
        return lines

    dependency_kinds = ("all", "elementwise", "ended")

    def dependency_directives(self, kind: str, parent_ids: Sequence[str], chunk: Chunk) -> list[str]:
        """afterok on every parent (aftercorr element-wise, afterany once they ended); a parent
        that fails or is cancelled makes Slurm kill the dependent job instead of leaving it pending."""
        condition = {"elementwise": "aftercorr", "ended": "afterany"}.get(kind, "afterok")
        return [f"--dependency={condition}:{':'.join(parent_ids)}", "--kill-on-invalid-dep=yes"]

    @staticmethod
    def _name(job: Job) -> str:
        return sanitize_name(str(job.settings.get("job_name") or job.function))

    def submit_argv(self, script: str, job: Job, target: Target, chunk: Chunk) -> list[str]:
        return [self.command(target, "sbatch"), "--parsable", script]

    def parse_submit(self, done: Completed) -> str:
        return parsing.parse_sbatch(done.stdout)

    # --- status -----------------------------------------------------------------------

    def live(self, native_ids: Sequence[str], target: Target) -> TaskStates:
        """One ``squeue`` for all jobs, array tasks expanded, finished ones included (-t all)."""
        argv = [
            self.command(target, "squeue"),
            "-h",
            "-r",
            "-t",
            "all",
            "-j",
            ",".join(native_ids),
            "-o",
            "%i|%T",
        ]
        done = self.run(target, argv)
        if done.returncode != 0:
            if parsing.INVALID_JOB_ID in done.stderr:  # one id given and the controller forgot it
                return {}
            # controller unreachable (restarting?): raise, so the watcher retries instead of
            # concluding that every job vanished
            done.check()
        return parsing.parse_table(done.stdout, native_ids)

    def finished(self, native_ids: Sequence[str], target: Target, arrays: frozenset[str] = frozenset()) -> TaskStates:
        """Final states of jobs squeue no longer lists: sacct, then the controller's memory.

        slurmdbd learns a job's end from slurmctld asynchronously (its agent queue: seconds
        under load, longer while slurmdbd is down or rolling up), so sacct may still say
        RUNNING for a job that has ended. For those, and for every job when accounting is
        off, ``scontrol show job`` (which remembers jobs for MinJobAge) has the last word.
        """
        states = self._accounting(native_ids, target)
        unsettled = [nid for nid in native_ids if not _settled(states, nid)]
        if unsettled:
            done = self.run(target, [self.command(target, "scontrol"), "show", "job", "-o"])
            if done.returncode == 0:
                for key, state in parsing.parse_scontrol_jobs(done.stdout, unsettled).items():
                    if state.terminal or key not in states:
                        states[key] = state
        return states

    def _accounting(self, native_ids: Sequence[str], target: Target) -> TaskStates:
        """sacct's states for these jobs; empty when accounting is off or fails."""
        argv = [self.command(target, "sacct"), "-X", "-n", "-P", "-j", ",".join(native_ids), "-o", "JobID,State"]
        done = self.run(target, argv)
        if done.returncode == 0:
            return parsing.parse_table(done.stdout, native_ids)
        if parsing.ACCOUNTING_DISABLED not in done.stderr + done.stdout:
            log.warning("sacct failed (%s); asking scontrol", (done.stderr or done.stdout).strip())
        return {}

    def cancel_argv(self, native_ids: Sequence[str], target: Target) -> list[str]:
        return [self.command(target, "scancel"), *native_ids]

    def submitted_by_script(self, script: str, target: Target) -> list[str]:
        """This user's live jobs whose command is ``script`` (squeue's %o is the batch script)."""
        done = self.run(target, [self.command(target, "squeue"), "-h", "--me", "-o", "%F|%o"])
        return parsing.jobs_running(done.stdout, script) if done.returncode == 0 else []

    def find_submitted(self, script: str, target: Target) -> list[str]:
        """Jobs of this user running ``script``, finished ones too (squeue remembers them for MinJobAge)."""
        done = self.run(target, [self.command(target, "squeue"), "-h", "--me", "-t", "all", "-o", "%F|%o"])
        return parsing.jobs_running(done.check().stdout, script)

    def max_array_size(self, target: Target) -> int:
        """MaxArraySize from ``scontrol show config``: task ids run 0 .. MaxArraySize-1."""
        done = self.run(target, [self.command(target, "scontrol"), "show", "config"])
        value = parsing.parse_config_value(done.stdout, "MaxArraySize") if done.returncode == 0 else None
        if value is None or not value.isdigit():
            log.warning("could not read MaxArraySize; assuming Slurm's default 1001")
            return 1001
        return int(value)

    @hookimpl
    def clustrix_resource_limits(self, job: Job, target: Target) -> dict[str, int] | None:
        """MaxTime and MaxMemPerNode (else the node's memory) of the job's partition."""
        done = self.run(target, [self.command(target, "scontrol"), "show", "partition", "-o"])
        if done.returncode != 0:
            return None
        partition = job.settings.get("partition")
        return parsing.parse_partition_limits(done.stdout, str(partition) if partition else None) or None

    def scheduler_logs(self, job: Job, element: int) -> list[str]:
        where = self.element_location(job, element)
        if where is None:
            return []
        native, task = where
        name = native if task is None else f"{native}_{task}"
        return [job.remote_log(f"slurm-{name}")]


def _settled(states: TaskStates, native_id: str) -> bool:
    """Every known task of this job is in a final state (and at least one is known)."""
    mine = [state for (nid, _), state in states.items() if nid == native_id]
    return bool(mine) and all(state.terminal for state in mine)
