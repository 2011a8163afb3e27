"""Parsers for what PBS prints: ``qsub`` job ids and ``qstat -f`` job records.

``qstat -f`` has the same shape in PBS Pro/OpenPBS and Torque: ``Job Id: ID`` then
indented ``key = value`` lines (long values continue on further indented lines).
Pure functions from text to states, checked against recorded outputs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clustrix.plugin import State

#: PBS Pro's negative exit codes for limits the MoM enforced
PRO_LIMIT_EXITS = {-29: State.TIMEOUT, -27: State.OUT_OF_MEMORY, -26: State.OUT_OF_MEMORY}
#: job_state letters still queued or held (W waiting for its start time, T in transit, H held)
PENDING_CODES = frozenset("QHWT")
#: job_state letters of a job that ended (C Torque, F PBS Pro, X a PBS Pro subjob)
ENDED_CODES = frozenset("CFX")


def parse_submit(stdout: str) -> str:
    """The id ``qsub`` prints: ``1234.server``, ``1234[].server`` for an array, ``46`` from the Slurm wrappers."""
    line = stdout.strip().splitlines()[-1].strip() if stdout.strip() else ""
    if not re.match(r"^\d+(\[\])?(\.\S+)?$", line):
        raise ValueError(f"qsub printed no job id: {stdout.strip()!r}")
    return line


def split_id(job_id: str) -> tuple[str, int | None]:
    """``1234[5].server`` -> (``1234[]``, 5); ``1234.server`` -> (``1234``, None): the sequence part, no server."""
    m = re.match(r"^(\d+)(?:\[(\d*)\])?", job_id.strip())
    if not m:
        return job_id.strip(), None
    number, index = m.group(1), m.group(2)
    if index is None:
        return number, None
    return f"{number}[]", int(index) if index else None


@dataclass(frozen=True)
class Record:
    """One job of ``qstat -f``: its id, state letter, exit status (if the server kept one), name, comment."""

    job_id: str
    code: str
    exit_status: int | None
    name: str
    comment: str

    def state(self, flavor: str) -> State | None:
        """The Clustrix state; None when the job ended but no exit status says how."""
        if self.code in PENDING_CODES:
            return State.PENDING
        if self.code not in ENDED_CODES:
            if self.code == "U" and flavor == "torque":
                return State.FAILED  # the Slurm wrappers' "unknown" state (e.g. out of memory)
            return State.RUNNING  # R running, E exiting, B array begun, S/U suspended
        if self.exit_status is None:
            return None
        if self.exit_status == 0:
            return State.COMPLETED
        if flavor == "pro" and self.exit_status in PRO_LIMIT_EXITS:
            return PRO_LIMIT_EXITS[self.exit_status]
        return State.FAILED

    @property
    def reason(self) -> str:
        parts = []
        if self.exit_status is not None and self.exit_status != 0:
            status = self.exit_status
            signal = f" (killed by signal {status - 256})" if status > 256 else ""
            parts.append(f"exit status {status}{signal}")
        if self.comment:
            parts.append(f"comment: {self.comment}")
        return "; ".join(parts)


def parse_qstat_full(text: str) -> list[Record]:
    """Every job record of ``qstat -f`` (``-x`` and ``-t`` add finished jobs and subjobs, same format)."""
    records: list[Record] = []
    job_id: str | None = None
    attrs: dict[str, str] = {}
    last = ""

    def flush() -> None:
        if job_id is not None:
            exit_text = attrs.get("exit_status", "").strip()
            records.append(
                Record(
                    job_id=job_id,
                    code=attrs.get("job_state", "").strip()[:1],
                    exit_status=int(exit_text) if re.fullmatch(r"-?\d+", exit_text) else None,
                    name=attrs.get("job_name", "").strip(),
                    comment=attrs.get("comment", "").strip(),
                )
            )

    for line in text.splitlines():
        head = re.match(r"^Job Id:\s*(\S+)", line)
        if head:
            flush()
            job_id, attrs, last = head.group(1), {}, ""
            continue
        attr = re.match(r"^\s+([A-Za-z_][\w.]*) = ?(.*)$", line)
        if attr and job_id is not None:
            last = attr.group(1).lower()
            attrs[last] = attr.group(2)
        elif line.startswith(("\t", " ")) and last and line.strip():
            attrs[last] += line.strip()  # a long value continued on the next line
    flush()
    return records
