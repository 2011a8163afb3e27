"""Reading what the runner wrote: verify the digest, then unpickle, then re-raise.

A remote exception comes back with its original type and the remote traceback attached
as an exception note; one that could not be pickled becomes :class:`RemoteError`
carrying the original type name, message and traceback.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import cloudpickle

from .errors import ClustrixError, ResultCorrupted
from .runner import MAGIC


class RemoteError(ClustrixError):
    """A remote exception that could not be pickled back; its type is named in the text."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name


def read_outcomes(path: Path) -> list[tuple[Any, ...]]:
    """Outcomes of one element; ResultCorrupted if the digest does not match."""
    data = path.read_bytes()
    header, _, body = data.partition(b"\n")
    parts = header.split(b" ")
    if len(parts) != 2 or parts[0] != MAGIC:
        raise ResultCorrupted(f"{path} is not a Clustrix result file (bad header); refusing to unpickle it")
    if hashlib.sha256(body).hexdigest().encode() != parts[1]:
        raise ResultCorrupted(
            f"{path}: content does not match its sha256 digest (truncated or altered in transit); "
            "refusing to unpickle it. Re-run the job, or check the disk/transfer."
        )
    outcomes: list[tuple[Any, ...]] = cloudpickle.loads(body)
    return outcomes


def exception_of(entry: tuple[Any, ...], call_id: str) -> BaseException:
    """The exception an ``("error", ...)`` entry describes, with the remote traceback noted."""
    _, exc, type_name, message, tb = entry
    if exc is None:
        exc = RemoteError(type_name, message)
    if tb:
        note = f"Remote traceback (clustrix job {call_id}):\n{tb.rstrip()}"
        exc.add_note(note)
    return exc
