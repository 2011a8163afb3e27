"""Parsers for what Grid Engine prints: ``qsub -terse``, ``qstat -xml``, ``qstat -j``, ``qacct -j``.

Pure functions from text to states, so each one is checked against recorded outputs.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from clustrix.plugin import State

#: (job number, task id or None for a plain job) -> qstat state code ("qw", "r", "Eqw", ...)
Codes = dict[tuple[str, int | None], str]

#: qacct ``failed`` codes that mean a limit was enforced (37: "qmaster enforced h_rt, h_cpu, or h_vmem limit")
TIMEOUT_FAILURES = frozenset({37})
#: qacct ``failed`` 100 ("assumedly after job") with these exit statuses: the job was killed (qdel)
KILLED_EXITS = frozenset({137, 143})


def parse_submit(stdout: str) -> str:
    """The job number from ``qsub -terse``: ``25`` or, for an array, ``25.1-7:1``."""
    first = stdout.strip().splitlines()[0] if stdout.strip() else ""
    number = first.split(".", 1)[0].strip()
    if not number.isdigit():
        raise ValueError(f"qsub printed no job number: {stdout.strip()!r}")
    return number


def task_ids(text: str) -> list[int]:
    """Expand qstat's task list: ``3``, ``1-7:1``, ``2-10:2,15``."""
    ids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        span, _, step = part.partition(":")
        first, _, last = span.partition("-")
        ids.extend(range(int(first), int(last or first) + 1, int(step or 1)))
    return ids


def parse_qstat_xml(text: str) -> Codes:
    """Every job (and array task) ``qstat -xml`` lists, with its state code."""
    codes: Codes = {}
    if not text.strip():
        return codes
    root = ET.fromstring(text)
    for entry in root.iter("job_list"):
        number = (entry.findtext("JB_job_number") or "").strip()
        code = (entry.findtext("state") or "").strip()
        tasks = (entry.findtext("tasks") or "").strip()
        if not number:
            continue
        if tasks:
            for task in task_ids(tasks):
                codes[(number, task)] = code
        else:
            codes[(number, None)] = code
    return codes


def live_state(code: str) -> State:
    """A qstat state code as a Clustrix state: E is an error, r/t running, queued/held pending;
    a job being deleted (d) before it started is CANCELLED at once: it will never run, though
    Grid Engine may list it for another ~30 s (a held job's qdel, seen with 8.1.9)."""
    if "E" in code:
        return State.FAILED
    if "r" in code or "t" in code:
        return State.RUNNING
    if "d" in code:
        return State.CANCELLED
    if "q" in code or "w" in code or "h" in code:
        return State.PENDING
    return State.RUNNING  # suspended (s, S, T) or being deleted (d): not over yet


_ERROR_REASON = re.compile(r"^error reason\s+(\d+)?:?\s*(.*)$")


def error_reasons(text: str) -> list[str]:
    """The "error reason" lines of ``qstat -j``, without their timestamp and uid prefix."""
    reasons = []
    for line in text.splitlines():
        m = _ERROR_REASON.match(line.strip())
        if m:
            message = m.group(2)
            message = re.sub(r"^\d\d/\d\d/\d{4} \d\d:\d\d:\d\d \[[^\]]*\]:\s*", "", message)
            reasons.append(message.strip())
    return reasons


@dataclass(frozen=True)
class Accounting:
    """One record of ``qacct -j``."""

    job: str
    task: int | None
    failed: int
    failed_text: str
    exit_status: int

    @property
    def state(self) -> State:
        if self.failed in TIMEOUT_FAILURES or "h_rt" in self.failed_text:
            return State.TIMEOUT
        if self.failed == 100 and self.exit_status in KILLED_EXITS:
            return State.CANCELLED
        if self.failed == 0 and self.exit_status == 0:
            return State.COMPLETED
        return State.FAILED

    @property
    def reason(self) -> str:
        if self.failed == 0:
            return f"exit status {self.exit_status}" if self.exit_status else ""
        text = f": {self.failed_text}" if self.failed_text else ""
        return f"qacct: failed {self.failed}{text}, exit status {self.exit_status}"


def parse_qacct(text: str) -> list[Accounting]:
    """Every record of one or more ``qacct -j`` outputs (records are separated by ``=====`` lines)."""
    records: list[Accounting] = []
    fields: dict[str, str] = {}

    def flush() -> None:
        if "jobnumber" in fields:
            task = fields.get("taskid", "undefined")
            failed, _, failed_text = fields.get("failed", "0").partition(":")
            records.append(
                Accounting(
                    job=fields["jobnumber"],
                    task=int(task) if task.isdigit() else None,
                    failed=int(failed.strip() or 0),
                    failed_text=failed_text.strip(),
                    exit_status=int((fields.get("exit_status", "0").split() or ["0"])[0]),
                )
            )
        fields.clear()

    for line in text.splitlines():
        if line.startswith("====") or line.startswith("### "):
            flush()
            continue
        key, _, value = line.strip().partition(" ")
        if key == "jobnumber" and "jobnumber" in fields:
            flush()  # records without separators (compact samples)
        if key:
            fields[key] = value.strip()
    flush()
    return records
