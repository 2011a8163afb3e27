"""The local backend's worker: ``python -m clustrix.backends.local_worker JOBDIR``.

A supervisor: up to ``max_workers`` forked worker processes take the job's elements one
at a time (stdout/stderr of element E in ``logs/E.out|err``): each takes the next element
when it is done with one, so the elements are claimed as on a batch scheduler. A worker
killed by a signal before writing its element's result (the OOM killer, ``kill -9``, a
segfault) has that element run once more in a fresh worker, unless the job was cancelled;
a worker that ends without the result a second time, or by an exit code (``os._exit``),
fails that element only: the supervisor leaves ``status/E.ended`` saying which signal or
exit code ended it, and starts another worker for the elements left.
In threads mode (CLUSTRIX_EXECUTOR_MODE, chosen by the hook chain in the submitting
process) the elements share one forked process and run in its threads, so a crash there
ends every element still running. With a ``time`` limit the whole process group is
stopped when the limit passes, leaving a ``status/timeout`` marker.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
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
from ..stop_warning import lead_time

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


def _leave(code: int) -> None:
    """End a forked child without running the supervisor's clean-up (atexit, buffers twice)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            code = code or 1
    os._exit(code)


def _threads_unit(jobdir: str, elements: Sequence[int], threads: int) -> None:
    """In a forked child: run all the elements in threads (output in worker.log), then leave."""
    code = 1
    try:
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # the time limit's warning: threads cannot take it
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda e: runner.run_element(jobdir, e), elements))
        code = 0
    except BaseException:
        traceback.print_exc()
    _leave(code)


def _slot_worker(jobdir: str, orders: int, reports: int) -> None:
    """In a forked child: run the elements named on ``orders`` one by one, reporting each
    on ``reports``; leave when ``orders`` is closed."""
    code = 1
    try:
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # between elements; the runner catches it in one
        with os.fdopen(orders, "rb") as incoming:
            for line in incoming:
                element = int(line)
                run_element_logged(jobdir, element)
                os.write(reports, b"%d\n" % element)
        code = 0
    except BaseException:
        traceback.print_exc()
    _leave(code)


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


class _Slot:
    """One worker process of the supervisor, running one element at a time."""

    def __init__(self, jobdir: str, others: set[int]) -> None:
        order_read, self.orders = os.pipe()
        self.reports, report_write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        self.pid = os.fork()
        if self.pid == 0:  # a sibling must not hold our pipes: EOF would never come
            for fd in (*others, self.orders, self.reports):
                os.close(fd)
            _slot_worker(jobdir, order_read, report_write)
        os.close(order_read)
        os.close(report_write)
        self.element: int | None = None
        self.eof = False  # its reports pipe is closed: it ended (or is ending)

    def give(self, element: int) -> None:
        """Send it ``element``; if it died meanwhile, its death is that element's end."""
        self.element = element
        with contextlib.suppress(OSError):
            os.write(self.orders, b"%d\n" % element)

    def retire(self) -> None:
        """No more work: closing its orders makes it leave."""
        if self.orders >= 0:
            os.close(self.orders)
            self.orders = -1

    def fds(self) -> list[int]:
        return [fd for fd in (self.orders, self.reports) if fd >= 0]

    def close(self) -> None:
        self.retire()
        os.close(self.reports)
        self.reports = -1


def supervise(jobdir: str, elements: Sequence[int], limit: int) -> None:
    """Run every element in one of at most ``limit`` worker processes, one element at a
    time each; a worker that dies is replaced while elements remain, and the element it
    was running is run once more (killed by a signal) or fails alone (``E.ended`` says how)."""
    pending = deque(elements)
    slots: dict[int, _Slot] = {}  # by pid
    rerun: set[int] = set()  # elements already given a second run
    while pending or slots:
        while pending and len([s for s in slots.values() if s.orders >= 0]) < limit:
            slot = _Slot(jobdir, {fd for s in slots.values() for fd in s.fds()})
            slots[slot.pid] = slot
            slot.give(pending.popleft())
        listening = {slot.reports: slot for slot in slots.values() if not slot.eof}
        if listening:
            ready, _, _ = select.select(list(listening), [], [], 1.0)
            for fd in ready:
                slot = listening[fd]
                if os.read(fd, 64):  # it reported its element done
                    slot.element = None
                    if pending:
                        slot.give(pending.popleft())
                    else:
                        slot.retire()
                else:
                    slot.eof = True
                    slot.retire()
        for element, wait_status in _reap(slots, block=not listening):
            if _run_again(jobdir, element, wait_status, rerun):
                pending.append(element)
            else:
                _record_end(jobdir, [element], wait_status)


def _run_again(jobdir: str, element: int, wait_status: int, rerun: set[int]) -> bool:
    """Whether an element whose worker ended without its result runs once more: killed by
    a signal, the first time, and the job not cancelled. Says so in the element's stderr."""
    if element in rerun or os.path.exists(os.path.join(jobdir, "results", f"{element}.pkl")):
        return False
    if not os.WIFSIGNALED(wait_status) or os.path.exists(os.path.join(jobdir, "status", "cancelled")):
        return False
    rerun.add(element)
    name = describe_end(wait_status)["signal"]
    log = open_log(os.path.join(jobdir, "logs", f"{element}.err"))
    with contextlib.suppress(OSError):
        os.write(
            log, f"clustrix: element {element} was killed by {name} without a result: running it once more\n".encode()
        )
    os.close(log)
    return True


def _reap(slots: dict[int, _Slot], block: bool) -> list[tuple[int, int]]:
    """Collect every worker that ended: (element, wait status) of each that died with one."""
    died: list[tuple[int, int]] = []
    while slots:
        try:
            pid, wait_status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            slots.clear()
            break
        if pid == 0:
            break
        block = False
        slot = slots.pop(pid, None)
        if slot is not None:
            slot.close()
            if slot.element is not None:
                died.append((slot.element, wait_status))
    return died


def _time_limit(jobdir: str, seconds: int, warn: int = 0) -> None:
    """SIGALRM in the supervisor (no thread, so forking stays safe) stops the whole group;
    ``warn`` seconds before, each element's process gets SIGUSR1, as Slurm's ``--signal``
    sends it: the runner turns it into ``checkpoint.stopping()``."""

    def expire(signum: int, frame: FrameType | None) -> None:
        open(os.path.join(jobdir, "status", "timeout"), "w").close()
        os.killpg(os.getpgid(0), signal.SIGKILL)

    def warned(signum: int, frame: FrameType | None) -> None:
        for pid in _children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)
        signal.signal(signal.SIGALRM, expire)
        signal.alarm(warn)

    if 0 < warn < seconds:
        signal.signal(signal.SIGALRM, warned)
        signal.alarm(seconds - warn)
    else:
        signal.signal(signal.SIGALRM, expire)
        signal.alarm(max(1, seconds))


def _children() -> list[int]:
    """This process's children: the element processes (their drains are in their own sessions)."""
    pids: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children") as f:
                pids += [int(p) for p in f.read().split()]
    return pids


def main(jobdir: str) -> int:
    settings = json.loads(os.environ.get("CLUSTRIX_JOB_SETTINGS") or "{}")
    with os.fdopen(os.open(os.path.join(jobdir, "status", "worker.json"), os.O_WRONLY | os.O_CREAT, PRIVATE), "w") as f:
        start = Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()[19]
        json.dump({"pid": os.getpid(), "start_time": start}, f)
    if settings.get("time"):
        _time_limit(jobdir, parse_time(settings["time"]), lead_time(settings))
    sys.path.insert(0, os.getcwd())
    with open(os.path.join(jobdir, "manifest.json")) as f:
        manifest = json.load(f)
    n_elements = len(manifest["elements"])
    with contextlib.suppress(BaseException):  # an element reports it in its own result
        runner.load_blob(jobdir, manifest, manifest["function"])  # imports done once, before forking
    workers = int(settings.get("max_workers") or os.cpu_count() or 1)
    if n_elements > 1 and os.environ.get("CLUSTRIX_EXECUTOR_MODE") == "threads":
        pid = os.fork()
        if pid == 0:
            _threads_unit(jobdir, range(n_elements), min(workers, n_elements))
        _record_end(jobdir, range(n_elements), os.waitpid(pid, 0)[1])
    else:
        supervise(jobdir, range(n_elements), workers)
    return 0


if __name__ == "__main__":
    sys.exit(main(os.path.abspath(sys.argv[1])))
