"""Grid Engine (Son of Grid Engine, SGE, OGS): ``#$`` directives and qsub/qstat/qacct/qdel.

Everything else (job script, arrays chunked to ``max_aj_tasks``, status logic, error
chain) is the core's batch engine. Per poll cycle: one ``qstat -xml`` for every live
job; ``qacct -j`` only for jobs that left qstat without a result file. ``qacct`` knows
a job only once the accounting file is flushed, so a job missing from both is given
``ACCOUNTING_GRACE`` seconds before it counts as lost.
"""

from __future__ import annotations

import re
import threading
import time
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
    mebibytes,
    parse_memory,
    parse_time,
    sanitize_name,
)

from . import parsing

#: seconds a job may be missing from both qstat and qacct before it counts as lost
ACCOUNTING_GRACE = 30.0


def _value(key: str, value: object) -> str:
    return directive_value(key, value, "Grid Engine")


class SGEScheduler(BatchScheduler):
    prefix = "#$"
    task_id_var = "SGE_TASK_ID"
    first_task = 1
    commands: ClassVar[dict[str, str]] = {
        "qsub": "qsub",
        "qstat": "qstat",
        "qdel": "qdel",
        "qacct": "qacct",
        "qconf": "qconf",
    }
    log_patterns: ClassVar[tuple[tuple[str, State], ...]] = (
        (r"h_rt limit|exceeded hard wallclock|wallclock time limit", State.TIMEOUT),
        (r"h_vmem limit|MemoryError", State.OUT_OF_MEMORY),
    )

    def __init__(self) -> None:
        super().__init__()
        self._reasons: dict[str, str] = {}
        self._missing_since: dict[str, float] = {}
        self._state_lock = threading.Lock()

    def settings(self) -> list[Setting]:
        plugin = type(self).__module__
        return [
            *super().settings(),
            Setting("queue", str, None, "Queue the job runs in (qsub -q).", "resources", plugin=plugin),
            Setting(
                "sge_pe",
                str,
                "smp",
                "Grid Engine parallel environment for `cores` > 1 (-pe NAME N).",
                "resources",
                plugin=plugin,
            ),
            Setting(
                "sge_root",
                str,
                None,
                "SGE_ROOT for the Grid Engine commands (default: their environment).",
                plugin=plugin,
            ),
            Setting(
                "sge_cell",
                str,
                None,
                "SGE_CELL for the Grid Engine commands (default: their environment).",
                plugin=plugin,
            ),
        ]

    # --- directives and submit ---------------------------------------------------------

    def directives(self, job: Job, target: Target, chunk: Chunk) -> list[str]:
        s = job.settings
        name = sanitize_name(s.get("job_name") or job.function)
        if any(c.isspace() or c == ":" for c in job.remote_dir):  # -o/-e read [host:]path
            raise ConfigError(
                f"remote_work_dir: {job.remote_dir!r} holds whitespace or ':', which Grid Engine -o/-e paths "
                "cannot carry; choose a remote_work_dir without them"
            )
        logs = f"{job.remote_logs_dir}/sge-{chunk.index}.$TASK_ID"
        # -r n: never rerun by Grid Engine itself (a host failing, a reschedule): retries are Clustrix's attempts
        lines = [f"-N {name}", "-S /bin/bash", "-cwd", f"-o {logs}.out", f"-e {logs}.err", "-r n"]
        cores = int(s.get("cores") or 1)
        if cores > 1:
            lines.append(f"-pe {_value('sge_pe', s.get('sge_pe') or 'smp')} {cores}")
        if s.get("memory"):
            per_slot = mebibytes(-(-parse_memory(s["memory"]) // cores))
            lines.append(f"-l h_vmem={per_slot}M")
        if s.get("time"):
            # no soft limit s_rt for a warning: a job given one is no longer killed at h_rt
            # (Grid Engine 8.1: h_rt=6,s_rt=3 ran 41 s), and -notify delays every kill
            lines.append(f"-l h_rt={hms(parse_time(s['time']))}")
        if s.get("queue"):
            lines.append(f"-q {_value('queue', s['queue'])}")
        if s.get("account"):
            lines.append(f"-A {_value('account', s['account'])}")
        if chunk.array:
            lines.append(f"-t {self.first_task}-{self.first_task + chunk.size - 1}")
            if s.get("max_concurrent"):
                lines.append(f"-tc {int(s['max_concurrent'])}")
        return lines

    dependency_kinds = ("all", "elementwise")

    def dependency_directives(self, kind: str, parent_ids: Sequence[str], chunk: Chunk) -> list[str]:
        """-hold_jid (element-wise: -hold_jid_ad). Grid Engine releases a held job whatever
        its parent's exit status: the runner then reports the parent's failure, and the
        watcher cancels a dependent of a parent that failed before it ran."""
        if kind == "elementwise":
            return [f"-hold_jid_ad {parent_ids[0]}"]
        return [f"-hold_jid {','.join(parent_ids)}"]

    def command_argv(self, target: Target, key: str, *args: str) -> list[str]:
        """A Grid Engine command, under ``env SGE_ROOT=.. SGE_CELL=..`` when those settings are given."""
        env = [
            f"{var}={target.settings[k]}"
            for var, k in (("SGE_ROOT", "sge_root"), ("SGE_CELL", "sge_cell"))
            if target.settings.get(k)
        ]
        return (["env", *env] if env else []) + [self.command(target, key), *args]

    def submit_argv(self, script: str, job: Job, target: Target, chunk: Chunk) -> list[str]:
        return self.command_argv(target, "qsub", "-terse", script)

    def parse_submit(self, done: Completed) -> str:
        return parsing.parse_submit(done.stdout)

    def cancel_argv(self, native_ids: Sequence[str], target: Target) -> list[str]:
        return self.command_argv(target, "qdel", *native_ids)

    def max_array_size(self, target: Target) -> int:
        """``max_aj_tasks`` of the cluster configuration (0 means unlimited); SGE's default otherwise."""
        done = self.run(target, self.command_argv(target, "qconf", "-sconf"), timeout=30)
        m = re.search(r"^max_aj_tasks\s+(\d+)", done.stdout, re.MULTILINE) if done.returncode == 0 else None
        limit = int(m.group(1)) if m else 75000
        return limit or 1_000_000

    def scheduler_logs(self, job: Job, element: int) -> list[str]:
        where = self.element_location(job, element)
        if where is None:
            return []
        native, task = where
        chunk = (job.native_id or "").split(",").index(native)
        return [job.remote_log(f"sge-{chunk}.{'undefined' if task is None else task}")]

    # --- status --------------------------------------------------------------------------

    def live(self, native_ids: Sequence[str], target: Target) -> TaskStates:
        done = self.run(target, self.command_argv(target, "qstat", "-xml")).check()
        wanted = set(native_ids)
        codes = {key: code for key, code in parsing.parse_qstat_xml(done.stdout).items() if key[0] in wanted}
        states: TaskStates = {key: parsing.live_state(code) for key, code in codes.items()}
        for number in sorted({key[0] for key, code in codes.items() if "E" in code}):
            self._explain_error_state(number, target)
        return states

    def _explain_error_state(self, number: str, target: Target) -> None:
        detail = self.run(target, self.command_argv(target, "qstat", "-j", number))
        reasons = parsing.error_reasons(detail.stdout) or ["qstat -j gave no error reason"]
        with self._state_lock:
            self._reasons[number] = (
                f"Grid Engine put job {number} in error state (Eqw): {'; '.join(reasons)}. "
                f"It stays queued: fix the cause and run `qmod -cj {number}`, or remove it with `qdel {number}`"
            )

    def finished(self, native_ids: Sequence[str], target: Target, arrays: frozenset[str] = frozenset()) -> TaskStates:
        script = 'q="$1"; shift; for j in "$@"; do echo "### $j"; "$q" -j "$j" 2>&1; done'
        qacct = self.command_argv(target, "qacct")
        argv = [*qacct[:-1], "sh", "-c", script, "sh", qacct[-1], *native_ids]
        done = self.run(target, argv)
        states: TaskStates = {}
        now = time.monotonic()
        with self._state_lock:
            for record in parsing.parse_qacct(done.stdout):
                states[(record.job, record.task)] = record.state
                if record.reason and record.state != State.COMPLETED:
                    self._reasons[record.job] = record.reason
            for number in native_ids:
                if any(key[0] == number for key in states):
                    self._missing_since.pop(number, None)
                    continue
                since = self._missing_since.setdefault(number, now)
                if now - since < ACCOUNTING_GRACE:
                    states[(number, None)] = State.RUNNING  # accounting may not be flushed yet
        return states

    def reason(self, native_id: str) -> str:
        with self._state_lock:
            return self._reasons.get(native_id, "")
