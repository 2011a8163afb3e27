"""Save a call's progress and resume it in the next attempt: ``save``, ``load``, ``stopping``.

    from clustrix import checkpoint

    state = checkpoint.load(default={"epoch": 0})
    for epoch in range(state["epoch"], 100):
        step(epoch)
        checkpoint.save({"epoch": epoch + 1})
        if checkpoint.stopping():      # the scheduler warned: return now, the attempt is requeued
            return None

In a Clustrix job each call has its own checkpoint, ``JOBDIR/checkpoints/CALL.pkl`` on the
execution host (CALL: the call's index in the job), replaced atomically by every
:func:`save` and signed (HMAC-SHA256) with the job's key like a result, so :func:`load`
never unpickles a file this job did not write (:class:`CheckpointForged`). A retried
attempt of the call runs in the same job directory and loads the last save.

Outside a Clustrix job (a plain call of the function, a unit test) :func:`save` does
nothing, :func:`load` returns ``default`` and :func:`stopping` is ``False``: the function
runs from the start, as it would with no checkpoint.

Standard library only (cloudpickle when importable): the execution host need not have
Clustrix installed. A copy of this file is staged next to ``runner.py`` in every job
directory and the runner registers it as ``clustrix.checkpoint`` when that import fails;
whichever copy is imported, the runner sets the call's context on it (:func:`enter`).
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
import threading
from collections.abc import Callable
from typing import Any

try:  # on the host the runner's cloudpickle is there; the client has it as a dependency
    import cloudpickle as _pickler
except ImportError:  # pragma: no cover - stdlib-only fallback
    _pickler = pickle

MAGIC = b"CLUSTRIX-CHECKPOINT1"


class CheckpointForged(Exception):
    """A checkpoint file is not signed with this job's key: it is refused, never unpickled."""


class _Call(threading.local):
    """The running call's checkpoint file; per thread (the local backend's threads mode)."""

    path: str | None = None
    key: bytes = b""
    write: Callable[[str, bytes], None] | None = None
    asked = False  # stopping() answered True to this call


_call = _Call()
_stop = threading.Event()  # signals reach the whole process: so does the warning
_reason: list[str] = []


def save(obj: Any) -> None:
    """Replace this call's checkpoint with ``obj`` (pickled, signed, written atomically)."""
    call = _call
    if call.path is None or call.write is None:
        return
    body = _pickler.dumps(obj)
    call.write(call.path, MAGIC + b" " + _sign(call.key, body) + b"\n" + body)


def load(default: Any = None) -> Any:
    """The object of this call's last :func:`save` (in this or an earlier attempt), else ``default``."""
    path = _call.path
    if path is None:
        return default
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return default
    head, _, body = data.partition(b"\n")
    parts = head.split(b" ")
    if len(parts) != 2 or parts[0] != MAGIC or not hmac.compare_digest(parts[1], _sign(_call.key, body)):
        raise CheckpointForged(
            f"the checkpoint {path} is not signed with this job's key, so checkpoint.save() of this job did "
            "not write it (or it was changed since): it was not unpickled. Find out who wrote it; delete it "
            "to run the call from the start"
        )
    return pickle.loads(body)


def stopping() -> bool:
    """True once the scheduler warned that the job is about to be stopped (time limit,
    preemption): save and return; the call is then requeued, not failed."""
    if _stop.is_set():
        _call.asked = True
        return True
    return False


def _sign(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).hexdigest().encode()


# --- the runner's side -------------------------------------------------------------------


def enter(path: str, key: bytes, write: Callable[[str, bytes], None]) -> None:
    """Make ``path`` the checkpoint of the call about to run in this thread."""
    _call.path, _call.key, _call.write, _call.asked = path, key, write, False


def leave() -> bool:
    """End the call's context; whether :func:`stopping` told it to stop."""
    asked = _call.asked
    _call.path, _call.key, _call.write, _call.asked = None, b"", None, False
    return asked


def request_stop(reason: str) -> None:
    """The scheduler's warning arrived (called from the runner's signal handler)."""
    if not _stop.is_set():
        _reason.append(reason)
    _stop.set()


def stop_reason() -> str | None:
    """Why :func:`stopping` is true, or None."""
    return _reason[0] if _stop.is_set() and _reason else None
