"""Reading an element's result, and its calls' checkpoints, back out of its pod log.

The pod prints its result file base64-encoded between two marker lines carrying the
length and sha256 (see ``bootstrap.py``), and each ``checkpoint.save`` the same way. The
log is the one channel out of a pod that needs no shared storage; its limit is the
kubelet's log rotation (containerLogMaxSize, 10 MiB by default), hence
``k8s_max_result_bytes``. Nothing here unpickles: the runner checks a checkpoint's
signature with the job's key before it loads it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

_BEGIN = re.compile(
    rb"^==== CLUSTRIX RESULT BEGIN job=(?P<job>\S+) element=(?P<element>\d+) "
    rb"bytes=(?P<size>\d+) sha256=(?P<sha>[0-9a-f]{64}) ====\r?$",
    re.MULTILINE,
)


_CHECKPOINT = re.compile(
    rb"^==== CLUSTRIX CHECKPOINT BEGIN job=(?P<job>\S+) call=(?P<call>\d+) "
    rb"bytes=(?P<size>\d+) sha256=(?P<sha>[0-9a-f]{64}) ====\r?$",
    re.MULTILINE,
)


class NoResult(Exception):
    """The log holds no complete, intact result; the message says what was found."""


def extract(log: bytes, job_id: str, element: int) -> bytes:
    """The result bytes of ``element`` from a pod log, checked for length and digest."""
    found = [m for m in _BEGIN.finditer(log) if m["job"].decode() == job_id and int(m["element"]) == element]
    if not found:
        raise NoResult("the pod log holds no result marker (the log may have been rotated or truncated)")
    begin = found[-1]
    end_marker = f"==== CLUSTRIX RESULT END job={job_id} element={element} ====".encode()
    end = log.find(end_marker, begin.end())
    if end < 0:
        raise NoResult("the pod log holds the start of the result but not its end (truncated log)")
    try:
        data = base64.b64decode(b"".join(log[begin.end() : end].split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoResult(f"the result in the pod log is not valid base64 ({exc})") from None
    if len(data) != int(begin["size"]) or hashlib.sha256(data).hexdigest().encode() != begin["sha"]:
        raise NoResult(
            f"the result in the pod log is {len(data)} bytes with a different sha256 than the pod "
            f"announced ({int(begin['size'])} bytes): altered in transit"
        )
    return data


def checkpoints(log: bytes, job_id: str, calls: range) -> dict[int, bytes]:
    """The last complete, intact checkpoint record of each of ``calls`` in a pod log (a
    record cut by log rotation or altered is skipped: the one before it counts)."""
    found: dict[int, bytes] = {}
    for begin in _CHECKPOINT.finditer(log):
        call = int(begin["call"])
        if begin["job"].decode() != job_id or call not in calls:
            continue
        end = log.find(f"==== CLUSTRIX CHECKPOINT END job={job_id} call={call} ====".encode(), begin.end())
        if end < 0:
            continue
        try:
            data = base64.b64decode(b"".join(log[begin.end() : end].split()), validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(data) == int(begin["size"]) and hashlib.sha256(data).hexdigest().encode() == begin["sha"]:
            found[call] = data
    return found
