"""Run the calls of one job element and write their outcomes atomically.

    python runner.py JOBDIR ELEMENT        (or: python -m clustrix.runner JOBDIR ELEMENT)

Standard library + cloudpickle only, so it runs on any remote Python >= 3.8 without
Clustrix installed; a copy of this file is staged into every job directory.

The outcome file ``results/ELEMENT.pkl`` is ``b"CLUSTRIX1 <sha256 of the rest>\\n"``
followed by a pickled list, one entry per call: ``("ok", value)`` or
``("error", exception_or_None, type_name, message, traceback_text)``. It is written to a
temporary file, fsynced and renamed, so a reader sees all of it or nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import time
import traceback
from typing import Any

import cloudpickle

MAGIC = b"CLUSTRIX1"


def load_blob(jobdir: str, manifest: dict, digest: str) -> object:
    path = os.path.join(jobdir, manifest["blobs"], digest)
    with open(path, "rb") as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() != digest:
        raise RuntimeError(f"payload {path} is corrupted: its sha256 is not {digest}")
    return cloudpickle.loads(data)


def run_calls(func: Any, calls: Any) -> list:
    outcomes: list = []
    for args, kwargs in calls:
        try:
            outcomes.append(("ok", func(*args, **kwargs)))
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            outcomes.append(("error", exc, _type_name(exc), str(exc), tb))
    return outcomes


def _type_name(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


def encode(outcomes: list) -> bytes:
    """Pickle the outcomes; an unpicklable value or exception becomes a described error."""
    try:
        body = cloudpickle.dumps(outcomes)
    except Exception:
        safe = []
        for entry in outcomes:
            try:
                cloudpickle.dumps(entry)
                safe.append(entry)
            except Exception as exc:
                if entry[0] == "ok":
                    err = TypeError(
                        f"the function returned a {type(entry[1]).__name__} that cannot be "
                        f"pickled ({type(exc).__name__}: {exc})"
                    )
                    safe.append(("error", err, _type_name(err), str(err), ""))
                else:
                    safe.append(("error", None, entry[2], entry[3], entry[4]))
        body = cloudpickle.dumps(safe)
    return MAGIC + b" " + hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dirfd = os.open(os.path.dirname(path), os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


def run_element(jobdir: str, element: int) -> None:
    """Run every call of ``element`` and write ``results/ELEMENT.pkl``."""
    with open(os.path.join(jobdir, "manifest.json")) as f:
        manifest = json.load(f)
    info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    status = os.path.join(jobdir, "status", f"{element}.started")
    with open(status, "w") as f:
        json.dump(info, f)
    spec = manifest["elements"][element]
    try:
        func = load_blob(jobdir, manifest, manifest["function"])
        calls = load_blob(jobdir, manifest, spec["blob"])
    except BaseException as exc:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        n = spec["calls"][1] - spec["calls"][0]
        outcomes = [("error", exc, _type_name(exc), str(exc), tb)] * n
    else:
        outcomes = run_calls(func, calls)
    write_atomic(os.path.join(jobdir, "results", f"{element}.pkl"), encode(outcomes))


def main(argv: list) -> int:
    if len(argv) != 2:
        print("usage: runner.py JOBDIR ELEMENT", file=sys.stderr)
        return 2
    jobdir, element = os.path.abspath(argv[0]), int(argv[1])
    sys.path.insert(0, os.getcwd())
    run_element(jobdir, element)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
