"""The local backend's worker: ``python -m clustrix.backends.local_worker JOBDIR``.

A supervisor: every element of the job runs in its own forked process, at most
``max_workers`` at once, its stdout/stderr in ``logs/E.out|err``. A process that ends
without writing its result (a segfault, the OOM killer, ``os._exit``) fails that element
only: the supervisor leaves ``status/E.ended`` saying which signal or exit code ended it.
In threads mode (CLUSTRIX_EXECUTOR_MODE, chosen by the hook chain in the submitting
process) the elements share one forked process and run in its threads, so a crash there
ends every element still running. With a ``time`` limit the whole process group is
stopped when the limit passes, leaving a ``status/timeout`` marker.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType

from .. import runner
from ..quantities import parse_time

PRIVATE = 0o600


def open_log(path: str) -> int:
    """A log file opened for appending, readable by its owner only whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE)
    os.fchmod(fd, PRIVATE)
    return fd


def run_element_logged(jobdir: str, element: int) -> None:
    """Run one element with fds 1 and 2 pointing at its log files (this process is its own)."""
    sys.stdout.flush()
    sys.stderr.flush()
    for fd, stream in ((1, "out"), (2, "err")):
        log = open_log(os.path.join(jobdir, "logs", f"{element}.{stream}"))
        os.dup2(log, fd)
        os.close(log)
    runner.run_element(jobdir, element)


def _run_unit(jobdir: str, elements: Sequence[int], threads: int) -> None:
    """In a forked child: run these elements, then leave without returning to the supervisor."""
    code = 1
    try:
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        if threads:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lambda e: runner.run_element(jobdir, e), elements))
        else:
            run_element_logged(jobdir, elements[0])
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                code = code or 1
        os._exit(code)


def describe_end(wait_status: int) -> dict[str, object]:
    """What ended a process: ``{"signal": "SIGSEGV", "description": ...}`` or ``{"exit": 3}``."""
    code = os.waitstatus_to_exitcode(wait_status)
    if code >= 0:
        return {"exit": code}
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    return {"signal": name, "number": -code, "description": signal.strsignal(-code) or ""}


def _record_end(jobdir: str, elements: Sequence[int], wait_status: int) -> None:
    """For each element that wrote no result, say what ended its process."""
    end = describe_end(wait_status)
    for e in elements:
        if not os.path.exists(os.path.join(jobdir, "results", f"{e}.pkl")):
            path = os.path.join(jobdir, "status", f"{e}.ended")
            with os.fdopen(os.open(f"{path}.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE), "w") as f:
                json.dump(end, f)
            os.replace(f"{path}.tmp", path)  # complete when a status poll first sees it


def supervise(jobdir: str, units: Sequence[Sequence[int]], limit: int, threads: int = 0) -> None:
    """Fork one process per unit of elements, at most ``limit`` at a time; reap them all.
    ``threads``: run a unit's elements in that many threads (0: a unit is one element)."""
    pending = deque(units)
    running: dict[int, Sequence[int]] = {}
    while pending or running:
        while pending and len(running) < limit:
            unit = pending.popleft()
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _run_unit(jobdir, unit, threads)
            running[pid] = unit
        pid, wait_status = os.wait()
        ended = running.pop(pid, None)
        if ended is not None:
            _record_end(jobdir, ended, wait_status)


def _time_limit(jobdir: str, seconds: int) -> None:
    """SIGALRM in the supervisor (no thread, so forking stays safe) stops the whole group."""

    def expire(signum: int, frame: FrameType | None) -> None:
        open(os.path.join(jobdir, "status", "timeout"), "w").close()
        os.killpg(os.getpgid(0), signal.SIGKILL)

    signal.signal(signal.SIGALRM, expire)
    signal.alarm(max(1, seconds))


def main(jobdir: str) -> int:
    settings = json.loads(os.environ.get("CLUSTRIX_JOB_SETTINGS") or "{}")
    with os.fdopen(os.open(os.path.join(jobdir, "status", "worker.json"), os.O_WRONLY | os.O_CREAT, PRIVATE), "w") as f:
        start = Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()[19]
        json.dump({"pid": os.getpid(), "start_time": start}, f)
    if settings.get("time"):
        _time_limit(jobdir, parse_time(settings["time"]))
    sys.path.insert(0, os.getcwd())
    with open(os.path.join(jobdir, "manifest.json")) as f:
        manifest = json.load(f)
    n_elements = len(manifest["elements"])
    workers = int(settings.get("max_workers") or os.cpu_count() or 1)
    if n_elements > 1 and os.environ.get("CLUSTRIX_EXECUTOR_MODE") == "threads":
        supervise(jobdir, [list(range(n_elements))], 1, threads=min(workers, n_elements))
    else:
        supervise(jobdir, [[e] for e in range(n_elements)], workers)
    return 0


if __name__ == "__main__":
    sys.exit(main(os.path.abspath(sys.argv[1])))
