"""Reading Slurm's answers: job states, squeue/sacct/scontrol output, sbatch and config.

Pure functions on text, so each is tested against outputs recorded from a real Slurm.
Keys are ``(job id, array task id or None)``, as the batch engine expects.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable

from clustrix.plugin import ConfigError, State, TaskStates, parse_memory, parse_time

#: every Slurm job state (long names, as squeue %T / sacct / scontrol print them)
STATES: dict[str, State] = {
    "PENDING": State.PENDING,
    "CONFIGURING": State.PENDING,  # nodes booting for the job
    "POWER_UP_NODE": State.PENDING,
    "REQUEUED": State.PENDING,
    "REQUEUE_HOLD": State.PENDING,
    "REQUEUE_FED": State.PENDING,
    "RESV_DEL_HOLD": State.PENDING,
    "RUNNING": State.RUNNING,
    "COMPLETING": State.RUNNING,  # processes ending; the final state follows
    "SUSPENDED": State.RUNNING,  # holds its allocation, resumes later
    "STOPPED": State.RUNNING,
    "SIGNALING": State.RUNNING,
    "STAGE_OUT": State.RUNNING,
    "RESIZING": State.RUNNING,
    "UPDATE_DB": State.RUNNING,
    "COMPLETED": State.COMPLETED,
    "FAILED": State.FAILED,
    "SPECIAL_EXIT": State.FAILED,
    "LAUNCH_FAILED": State.FAILED,
    "RECONFIG_FAIL": State.FAILED,
    "CANCELLED": State.CANCELLED,  # sacct: "CANCELLED by UID"
    "REVOKED": State.CANCELLED,  # federation: the sibling ran elsewhere
    "TIMEOUT": State.TIMEOUT,
    "DEADLINE": State.TIMEOUT,  # could not finish before its --deadline
    "OUT_OF_MEMORY": State.OUT_OF_MEMORY,
    "NODE_FAIL": State.NODE_FAIL,
    "BOOT_FAIL": State.NODE_FAIL,
    "PREEMPTED": State.PREEMPTED,
}

ACCOUNTING_DISABLED = "accounting storage is disabled"
INVALID_JOB_ID = "Invalid job id specified"


def state_of(text: str) -> State:
    """A Slurm state as a Clustrix state: 'CANCELLED by 0' and truncated 'CANCELLED+' included.

    An unknown name is FAILED: the job's result file is read before any state, so a job
    that finished well is never failed by an unfamiliar word.
    """
    word = text.strip().split(" ", 1)[0].rstrip("+").upper()
    return STATES.get(word, State.FAILED)


def _task_range(spec: str) -> list[int]:
    """'0-3,7,9-11:2%4' -> [0, 1, 2, 3, 7, 9, 11]."""
    tasks: list[int] = []
    for part in spec.split("%", 1)[0].split(","):
        step = 1
        if ":" in part:
            part, step_text = part.split(":", 1)
            step = int(step_text)
        low, _, high = part.partition("-")
        tasks.extend(range(int(low), int(high or low) + 1, step))
    return tasks


def job_keys(job_id: str) -> list[tuple[str, int | None]]:
    """'54_0' -> [('54', 0)]; '54_[0-3]' -> four keys; '55' -> [('55', None)]; steps -> []."""
    job_id = job_id.strip()
    if not job_id or "." in job_id:  # job steps (54.batch) describe no task of their own
        return []
    base, sep, task = job_id.partition("_")
    base = base.split("+", 1)[0]  # heterogeneous job component 54+0
    if not sep:
        return [(base, None)]
    try:
        return [(base, t) for t in _task_range(task.strip("[]"))]
    except ValueError:
        return []


def parse_table(text: str, wanted: Iterable[str] | None = None, column: int = 1) -> TaskStates:
    """``ID|STATE`` lines (squeue -o '%i|%T', sacct -P -o JobID,State) -> states.

    ``column`` is where the state is when the command printed more fields.

    A later line wins: sacct lists a requeued (or, after a controller reset, reused)
    id more than once, oldest first.
    """
    keep = set(wanted) if wanted is not None else None
    states: TaskStates = {}
    for line in text.splitlines():
        fields = line.split("|")
        if len(fields) <= column:
            continue
        for key in job_keys(fields[0]):
            if keep is None or key[0] in keep:
                states[key] = state_of(fields[column])
    return states


_FIELD = re.compile(r"(?:^|\s)(JobId|ArrayJobId|ArrayTaskId|JobState)=(\S*)")


def parse_scontrol_jobs(text: str, wanted: Iterable[str] | None = None) -> TaskStates:
    """``scontrol show job`` (``-o``: one job per line, else blank-line separated) -> states."""
    keep = set(wanted) if wanted is not None else None
    states: TaskStates = {}
    for record in re.split(r"(?m)^(?=JobId=)", text):
        fields = dict(_FIELD.findall(record))
        if "JobId" not in fields or "JobState" not in fields:
            continue
        state = state_of(fields["JobState"])
        array_id, task = fields.get("ArrayJobId"), fields.get("ArrayTaskId")
        keys: list[tuple[str, int | None]]
        if array_id and task:
            keys = [(array_id, t) for t in _task_range(task)] if task[0].isdigit() else []
        else:
            keys = [(fields["JobId"], None)]
        for key in keys:
            if keep is None or key[0] in keep:
                states[key] = state
    return states


def parse_sbatch(stdout: str) -> str:
    """The job id from ``sbatch --parsable``: 'ID' or 'ID;CLUSTER'."""
    for line in stdout.splitlines():
        line = line.strip()
        if line:
            job_id = line.split(";", 1)[0]
            if job_id.isdigit():
                return job_id
    raise ValueError(f"sbatch --parsable printed no job id: {stdout.strip()!r}")


def parse_config_value(text: str, key: str) -> str | None:
    """One value from ``scontrol show config`` ('MaxArraySize            = 1001')."""
    match = re.search(rf"^{re.escape(key)}\s*=\s*(\S+)", text, re.MULTILINE)
    return match.group(1) if match else None


def jobs_running(text: str, script: str) -> list[str]:
    """``squeue -o '%F|%o'`` lines (job or array id, command) -> ids of the jobs running ``script``."""
    found = []
    for line in text.splitlines():
        job_id, sep, command = line.strip().partition("|")
        if sep and command == script and job_id.isdigit() and job_id not in found:
            found.append(job_id)
    return found


_PARTITION_FIELD = re.compile(r"(?:^|\s)(PartitionName|Default|MaxTime|MaxMemPerNode|TotalNodes|TRES)=(\S*)")


def parse_partition_limits(text: str, partition: str | None) -> dict[str, int]:
    """``{"memory": bytes, "time": seconds}`` a job may ask for in ``partition`` (None: the
    default one), from ``scontrol show partition -o``: MaxTime; MaxMemPerNode, else the
    node's memory (TRES mem) of a one-node partition. A key is left out when unlimited or unknown."""
    for line in text.splitlines():
        fields = dict(_PARTITION_FIELD.findall(line))
        if not fields.get("PartitionName"):
            continue
        if partition is not None and fields["PartitionName"] != partition:
            continue
        if partition is None and fields.get("Default") != "YES":
            continue
        limits: dict[str, int] = {}
        max_time = fields.get("MaxTime", "UNLIMITED")
        if max_time not in ("UNLIMITED", "INFINITE", ""):
            with contextlib.suppress(ConfigError):
                limits["time"] = parse_time(max_time)
        memory = fields.get("MaxMemPerNode", "UNLIMITED")
        if memory in ("UNLIMITED", "") and fields.get("TotalNodes") == "1":
            tres = dict(item.split("=", 1) for item in fields.get("TRES", "").split(",") if "=" in item)
            memory = tres.get("mem", "")
        if memory and memory != "UNLIMITED":
            with contextlib.suppress(ConfigError):
                limits["memory"] = parse_memory(memory)
        return limits
    return {}
