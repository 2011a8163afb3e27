"""Reading what the runner wrote: authenticate, then unpickle call by call, then re-raise.

Nothing in a result file is unpickled before its HMAC, made with the job's own key, is
checked (``hmac.compare_digest``): a file altered or forged on the execution host, or
in transit, is refused whole (:class:`ResultForged`). Each call's outcome is a pickle of
its own, so a value that cannot be rebuilt here (its class exists only on the cluster)
fails that call alone with :class:`ResultUnreadable`, the cause chained.

A remote exception comes back with its original type and the remote traceback attached
as an exception note; one that could not be pickled becomes :class:`RemoteError`
carrying the original type name, message and traceback. A remote ``SystemExit``,
``KeyboardInterrupt`` or ``GeneratorExit`` becomes a :class:`RemoteBaseException`
subclass, so a function cannot end or interrupt the caller's process.
"""

from __future__ import annotations

import hmac
import io
import pickle
from pathlib import Path
from typing import Any

import cloudpickle

from .errors import (
    ClustrixError,
    RemoteBaseException,
    RemoteGeneratorExit,
    RemoteKeyboardInterrupt,
    RemoteSystemExit,
    ResultCorrupted,
    ResultForged,
    ResultUnreadable,
)
from .runner import DEPENDENCY_FAILED, KEY_FILE, MAGIC, sign

OLD_MAGIC = b"CLUSTRIX1"


class RemoteError(ClustrixError):
    """A remote exception that could not be pickled back; its type is named in the text."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name


class _ListOfBytes(pickle.Unpickler):
    """The outer layer of a result is a list of byte strings: no class may be loaded."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"a result file's outer layer may not name {module}.{name}")


def job_key(path: Path) -> bytes:
    """The key of the job a result file belongs to (``JOBDIR/results/E.pkl`` -> ``JOBDIR/key``)."""
    key_path = path.parent.parent / KEY_FILE
    try:
        return key_path.read_bytes()
    except OSError as exc:
        raise ResultForged(
            f"{path}: the job's key {key_path} cannot be read ({exc.strerror or exc}), so the result cannot be "
            "authenticated; refusing to unpickle it. Read it from the machine that submitted the job."
        ) from None


def read_outcomes(path: Path, key: bytes | None = None) -> list[tuple[Any, ...]]:
    """Outcomes of one element, authenticated with ``key`` (default: the job's key file):
    ``("ok", value)``, ``("error", exc, type name, message, traceback)`` or
    ``("requeue", reason)`` (the function returned early on the scheduler's warning).

    Raises ResultForged / ResultCorrupted for a file that is not this job's intact result;
    a call whose outcome cannot be unpickled gets an ``("error", ResultUnreadable, ...)``.
    """
    data = path.read_bytes()
    header, _, body = data.partition(b"\n")
    parts = header.split(b" ")
    if len(parts) == 2 and parts[0] == OLD_MAGIC:
        raise ResultForged(
            f"{path} is in the unauthenticated format of an older Clustrix; refusing to unpickle it. "
            "Re-run the job with this version."
        )
    if len(parts) != 2 or parts[0] != MAGIC:
        raise ResultCorrupted(f"{path} is not a Clustrix result file (bad header); refusing to unpickle it")
    if not hmac.compare_digest(sign(key if key is not None else job_key(path), body), parts[1]):
        raise ResultForged(
            f"{path}: its authentication code does not match the job's key: the file was altered or forged "
            "(or truncated in transit); refusing to unpickle it. Re-run the job, and check who can write "
            "to the remote work directory."
        )
    try:
        entries = _ListOfBytes(io.BytesIO(body)).load()
    except Exception as exc:
        raise ResultCorrupted(f"{path}: authenticated but malformed ({exc}); refusing to use it") from None
    if not isinstance(entries, list) or not all(isinstance(e, bytes) for e in entries):
        raise ResultCorrupted(f"{path}: authenticated but not a list of outcomes; refusing to use it")
    return [_load_entry(entry, path, i) for i, entry in enumerate(entries)]


def _load_entry(data: bytes, path: Path, position: int) -> tuple[Any, ...]:
    try:
        entry = cloudpickle.loads(data)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # ModuleNotFoundError, a failing __setstate__, even SystemExit
        err = ResultUnreadable(
            f"the outcome of call {position} in {path} was written on the execution host but cannot be "
            f"unpickled here: {type(exc).__name__}: {exc}. Return plain types (str, numbers, lists, dicts, "
            "numpy arrays) or install the module that defines the returned class on this machine."
        )
        err.__cause__ = exc
        return ("error", err, "clustrix.errors.ResultUnreadable", str(err), "")
    if not isinstance(entry, tuple) or not entry or entry[0] not in ("ok", "error", "requeue"):
        err = ResultUnreadable(f"the outcome of call {position} in {path} is not an outcome: {type(entry).__name__}")
        return ("error", err, "clustrix.errors.ResultUnreadable", str(err), "")
    return entry


_BASE_EXCEPTIONS: tuple[tuple[type[BaseException], type[RemoteBaseException]], ...] = (
    (SystemExit, RemoteSystemExit),
    (KeyboardInterrupt, RemoteKeyboardInterrupt),
    (GeneratorExit, RemoteGeneratorExit),
)


def _tamed(exc: BaseException, type_name: str, message: str, call_id: str) -> Exception:
    """An Exception standing for a remote BaseException that would end or interrupt the caller."""
    cls = next((mine for theirs, mine in _BASE_EXCEPTIONS if isinstance(exc, theirs)), RemoteBaseException)
    if cls is RemoteSystemExit:
        code = getattr(exc, "code", None)
        err: RemoteBaseException = RemoteSystemExit(f"exit code {code!r}", exit_code=code, job_id=call_id)
    else:
        err = cls(f"{type_name}: {message}" if message else type_name, job_id=call_id)
    return err


def exception_of(entry: tuple[Any, ...], call_id: str) -> BaseException:
    """The exception an ``("error", ...)`` entry describes, with the remote traceback noted."""
    _, exc, type_name, message, tb = entry
    if exc is None and type_name == DEPENDENCY_FAILED:
        from .dependencies import dependency_error

        return dependency_error(message, tb, call_id)
    if exc is None:
        exc = RemoteError(type_name, message)
    elif not isinstance(exc, Exception):
        exc = _tamed(exc, type_name, message, call_id)
    if tb:
        note = f"Remote traceback (clustrix job {call_id}):\n{tb.rstrip()}"
        exc.add_note(note)
    return exc
