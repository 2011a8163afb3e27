"""PBS: ``#PBS`` directives and qsub/qstat/qdel, in the PBS Pro/OpenPBS or the Torque dialect.

``pbs_flavor = "pro"``: ``-l select=1:ncpus=N:mem=M``, ``-J`` arrays, finished jobs from
``qstat -x``. ``"torque"``: ``-l nodes=1:ppn=N`` + ``-l mem=M``, ``-t`` arrays, finished
jobs from ``qstat`` itself (kept for ``keep_completed`` seconds). Both: ``-o/-e`` go on
the qsub command line, since some qsub wrappers ignore them inside the script.

Everything else is the core's batch engine. Per poll cycle: one ``qstat -f -t`` for
every outstanding job. Where qstat cannot list array subjobs (the Slurm ``qsub/qstat``
wrappers reject ``-t``), an array is seen as a whole; when its record ends, ``qstat -f``
of all jobs is asked once whether tasks of that name still run elsewhere.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

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


def _value(key: str, value: object) -> str:
    return directive_value(key, value, "PBS")


def check_remote_dir(path: str) -> None:
    """A job directory qsub can take: ``-o``/``-e`` paths (on the command line, ``host:path``
    syntax) cannot carry whitespace or ':'."""
    if any(c.isspace() or c == ":" for c in path):
        raise ConfigError(
            f"remote_work_dir: {path!r} holds whitespace or ':', which qsub -o/-e paths cannot carry; "
            "choose a remote_work_dir without them"
        )


class PBSScheduler(BatchScheduler):
    prefix = "#PBS"
    #: PBS Pro and the Slurm wrappers set PBS_ARRAY_INDEX, Torque PBS_ARRAYID
    task_id_var = "PBS_ARRAY_INDEX:-$PBS_ARRAYID"
    first_task = 0
    commands: ClassVar[dict[str, str]] = {"qsub": "qsub", "qstat": "qstat", "qdel": "qdel"}
    log_patterns: ClassVar[tuple[tuple[str, State], ...]] = (
        (r"job killed: walltime|DUE TO TIME LIMIT", State.TIMEOUT),
        (r"job killed: (p?v?mem|memory)|oom[-_ ]kill|Out Of Memory", State.OUT_OF_MEMORY),
        (r"\*\*\* JOB \S+ ON \S+ CANCELLED AT|job deleted|Job has been deleted", State.CANCELLED),
    )

    def __init__(self) -> None:
        super().__init__()
        self._reasons: dict[str, str] = {}  # learnt from qstat: why a job is in its state
        self._whole_arrays: set[str] = set()  # target keys whose qstat has no -t
        self._state_lock = threading.Lock()

    def settings(self) -> list[Setting]:
        return [
            *super().settings(),
            Setting("queue", str, None, "Queue the job runs in (qsub -q).", "resources", plugin=type(self).__module__),
            Setting(
                "pbs_flavor",
                str,
                "pro",
                "PBS dialect: 'pro' (PBS Pro/OpenPBS: select, -J, qstat -x) or 'torque' (nodes:ppn, -t).",
                "target",
                choices=("pro", "torque"),
                plugin=type(self).__module__,
            ),
        ]

    @staticmethod
    def flavor(settings: Mapping[str, Any]) -> str:
        return str(settings.get("pbs_flavor") or "pro")

    # --- directives and submit ---------------------------------------------------------

    def directives(self, job: Job, target: Target, chunk: Chunk) -> list[str]:
        check_remote_dir(job.remote_dir)  # here, so that render refuses what submit would
        s, flavor = job.settings, self.flavor(job.settings)
        lines = [f"-N {sanitize_name(s.get('job_name') or job.function)}", "-S /bin/bash"]
        cores, nodes = int(s.get("cores") or 1), int(s.get("nodes") or 1)
        memory = f"{mebibytes(parse_memory(s['memory']))}mb" if s.get("memory") else None
        if flavor == "pro":
            select = f"select={nodes}:ncpus={cores}"
            select += f":ngpus={int(s['gpus'])}" if s.get("gpus") else ""
            select += f":mem={memory}" if memory else ""
            lines.append(f"-l {select}")
        else:
            spec = f"nodes={nodes}:ppn={cores}" + (f":gpus={int(s['gpus'])}" if s.get("gpus") else "")
            lines.append(f"-l {spec}" + (f",mem={memory}" if memory else ""))
        if s.get("time"):
            lines.append(f"-l walltime={hms(parse_time(s['time']))}")
        if s.get("queue"):
            lines.append(f"-q {_value('queue', s['queue'])}")
        if s.get("account"):
            lines.append(f"-A {_value('account', s['account'])}")
        if chunk.array:
            span = f"{self.first_task}-{self.first_task + chunk.size - 1}"
            limit = f"%{int(s['max_concurrent'])}" if s.get("max_concurrent") else ""
            if flavor == "pro":
                lines.append(f"-J {span}")
                if limit:
                    lines.append(f"-W max_run_subjobs={limit[1:]}")
            else:
                lines.append(f"-t {span}{limit}")
        return lines

    def log_path(self, job: Job, chunk: int, stream: str) -> str:
        """The scheduler's stdout/stderr file of a chunk (PBS Pro fills in ``^array_index^``)."""
        check_remote_dir(job.remote_dir)
        task = ".^array_index^" if self.flavor(job.settings) == "pro" and self.n_tasks(job) > 1 else ""
        return job.remote_log(f"pbs-{chunk}{task}", stream)

    dependency_kinds = ("all", "ended")

    def dependency_directives(self, kind: str, parent_ids: Sequence[str], chunk: Chunk) -> list[str]:
        """-W depend=afterok on every parent, afterany once they ended (PBS has no element-wise dependency)."""
        return [f"-W depend={'afterany' if kind == 'ended' else 'afterok'}:{':'.join(parent_ids)}"]

    def submit_argv(self, script: str, job: Job, target: Target, chunk: Chunk) -> list[str]:
        out, err = self.log_path(job, chunk.index, "out"), self.log_path(job, chunk.index, "err")
        # -r n: not rerunnable, so the scheduler never reruns it behind Clustrix's back (retries= does);
        # on the command line, where the Torque wrappers read it too (they ignore a "#PBS -r" line)
        return [self.command(target, "qsub"), "-r", "n", "-o", out, "-e", err, script]

    def parse_submit(self, done: Completed) -> str:
        return parsing.parse_submit(done.stdout)

    def cancel_argv(self, native_ids: Sequence[str], target: Target) -> list[str]:
        return [self.command(target, "qdel"), *native_ids]

    def scheduler_logs(self, job: Job, element: int) -> list[str]:
        where = self.element_location(job, element)
        if where is None:
            return []
        native, task = where
        chunk = (job.native_id or "").split(",").index(native)
        path = self.log_path(job, chunk, "err")
        if task is None:
            return [path]
        if self.flavor(job.settings) == "pro":
            return [path.replace("^array_index^", str(task))]
        return [path, f"{path}-{task}"]  # Torque appends -INDEX to an array's file; the wrappers share one

    # --- status --------------------------------------------------------------------------

    def _qstat(self, target: Target, native_ids: Sequence[str], *flags: str) -> list[parsing.Record]:
        """``qstat -f [-t] FLAGS ids`` (without -t where qstat rejects it); unknown ids are just absent."""
        qstat = self.command(target, "qstat")
        if target.key not in self._whole_arrays:
            done = self.run(target, [qstat, "-f", "-t", *flags, *native_ids])
            if "nknown option" not in done.stderr and "invalid option" not in done.stderr:
                return parsing.parse_qstat_full(done.stdout)
            self._whole_arrays.add(target.key)
        done = self.run(target, [qstat, "-f", *flags, *native_ids])
        return parsing.parse_qstat_full(done.stdout)

    def _states(self, records: list[parsing.Record], native_ids: Sequence[str], flavor: str) -> TaskStates:
        by_number = {parsing.split_id(nid): nid for nid in native_ids}
        states: TaskStates = {}
        for record in records:
            base, task = parsing.split_id(record.job_id)
            native = by_number.get((base, None)) or by_number.get((base.removesuffix("[]"), None))
            if native is None:
                continue
            state = record.state(flavor)
            if state is None:
                continue
            states[(native, task)] = state
            if record.reason and state not in (State.COMPLETED, State.PENDING, State.RUNNING):
                with self._state_lock:
                    self._reasons[native] = record.reason
        return states

    def live(self, native_ids: Sequence[str], target: Target) -> TaskStates:
        return self._states(self._qstat(target, native_ids), native_ids, self.flavor(target.settings))

    def finished(self, native_ids: Sequence[str], target: Target, arrays: frozenset[str] = frozenset()) -> TaskStates:
        flavor = self.flavor(target.settings)
        records = self._qstat(target, native_ids, "-x") if flavor == "pro" else self._qstat(target, native_ids)
        states = self._states(records, native_ids, flavor)
        ended = [
            r
            for r in records
            if r.code in parsing.ENDED_CODES and r.exit_status is None and parsing.split_id(r.job_id)[1] is None
        ]
        still_running = self._array_names_running(target, ended, arrays)
        for record in ended:
            native = next((n for n in native_ids if parsing.split_id(n)[0] == parsing.split_id(record.job_id)[0]), None)
            if native is None or (native, None) in states:
                continue
            if native in arrays and record.name in still_running:
                states[(native, None)] = State.RUNNING  # the array's record ended; some of its tasks run on
                continue
            states[(native, None)] = State.FAILED
            with self._state_lock:
                self._reasons.setdefault(
                    native, f"job {native} ended (state {record.code}) without a result; qstat gives no exit status"
                )
        return states

    def _array_names_running(self, target: Target, ended: list[parsing.Record], arrays: frozenset[str]) -> set[str]:
        """Names of jobs qstat still shows unfinished, if an array seen only as a whole has ended."""
        numbers = {parsing.split_id(n)[0] for n in arrays}
        arrays = [r for r in ended if parsing.split_id(r.job_id)[0] in numbers]
        if not arrays or target.key not in self._whole_arrays:
            return set()
        done = self.run(target, [self.command(target, "qstat"), "-f"])
        return {r.name for r in parsing.parse_qstat_full(done.stdout) if r.code not in parsing.ENDED_CODES}

    def reason(self, native_id: str) -> str:
        with self._state_lock:
            return self._reasons.get(native_id, "")
