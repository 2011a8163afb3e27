"""Run the calls of one job element and write their outcomes atomically.

    python runner.py JOBDIR ELEMENT        (or: python -m clustrix.runner JOBDIR ELEMENT)
    python runner.py JOBDIR --worker W     (an array task that claims elements, see below)

Standard library + cloudpickle only, so it runs on any remote Python >= 3.8 without
Clustrix installed; a copy of this file is staged into every job directory.

The outcome file ``results/ELEMENT.pkl`` is ``b"CLUSTRIX2 <HMAC-SHA256 of the rest>\\n"``
followed by a plain pickle of a list of byte strings, one per call, each the cloudpickle
of ``("ok", value)`` or ``("error", exception_or_None, type_name, message, traceback_text)``.
The HMAC key is the job's own ``key`` file (made at packaging, readable only by the
user), so the client can tell a result this job wrote from anything else before it
unpickles a byte; one call per pickle, so a value the client cannot rebuild fails that
call only. The file is written in full to a temporary name, size-checked, fsynced and
renamed, so a reader sees all of it or nothing.

A call the scheduler is about to stop is *requeued*: the runner turns SIGUSR1 (Slurm's
``--signal``, the local backend's warning) and SIGTERM (preemption)
into ``checkpoint.stopping()`` becoming true. When a call that was told so returns (or
raises), its outcome and that of every call of the element not yet run is
``("requeue", reason)`` -- reason starts with ``walltime`` (SIGUSR1) or ``terminated``
(SIGTERM) -- the result file is written as usual and the runner exits 0; the client
resubmits those calls, which resume from their checkpoints (``checkpoints/CALL.pkl``, see
``checkpoint.py``, staged next to this file). A call that never asked keeps its outcome.
SIGTERM after ``status/cancelled`` (the local and ssh backends' cancel) still ends the
runner at once. An element whose result file already exists is not run again: the runner
exits 0 at once (a scheduler that requeued the job by itself).

A *worker* (``python runner.py JOBDIR --worker W``: a batch array task of a job packed
for claiming) runs elements one after another: it claims the next element without a
result by creating ``claims/E`` with ``O_EXCL`` (atomic on the job's filesystem, NFS
included), marks the claim ``claims/E.W``, runs the element with fds 1 and 2 on its log
files, and claims again until none is left. A claim is never taken from a live worker.
The element of a worker that died is run again, once (``claims/E.released`` created with
``O_EXCL`` says it was): a worker that finds nothing left to claim takes over the
elements whose holder died on its own host (the marker names host and pid), and the
client releases the claim of a worker the scheduler says ended (``claims/E`` renamed
away), so that a worker still running claims it again. The worker then exits 0.
After the scheduler's warning (SIGUSR1) a worker finishes its element and claims no more.

The element's stdout and stderr, when they are files (``logs/E.out|err``), are bounded
by the manifest's ``max_log_bytes``: fds 1 and 2 are pipes drained into the files, which
keep the first and the last bytes and say how many were dropped between them.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import os
import pickle
import select
import signal
import socket
import stat
import sys
import threading
import time
import traceback
import types
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import cloudpickle

MAGIC = b"CLUSTRIX2"
KEY_FILE = "key"
#: the per-call checkpoints in the job dir, and the module that writes them (staged next to this file)
CHECKPOINTS = "checkpoints"
CHECKPOINT_MODULE = "checkpoint.py"
#: the scheduler's warnings, and how the requeue reason names them
WARNINGS = {
    signal.SIGUSR1: "walltime: the scheduler's warning (SIGUSR1) before the time limit or a preemption",
    signal.SIGTERM: "terminated: SIGTERM from the scheduler (preemption, the node or pod shutting down)",
}


def load_blob(jobdir: str, manifest: dict, digest: str) -> object:
    path = os.path.join(jobdir, manifest["blobs"], digest)
    with open(path, "rb") as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() != digest:
        raise RuntimeError(f"payload {path} is corrupted: its sha256 is not {digest}")
    return cloudpickle.loads(data)


def run_calls(func: Any, calls: Any, checkpoints: Any = None) -> list:
    """Outcomes of the calls; every exception is recorded, SystemExit and KeyboardInterrupt
    included, so nothing the function raises ends the runner without a result. A call
    taking the result of a call that failed does not run: it gets a DependencyFailed error
    naming that call.

    ``checkpoints`` (a :class:`Checkpoints`) gives each call its checkpoint file and turns
    the calls left after a stop warning into requeue entries.
    """
    outcomes: list = []
    for i, (args, kwargs) in enumerate(calls):
        if checkpoints is not None and checkpoints.stop_reason():
            outcomes.append(("requeue", checkpoints.stop_reason()))
            continue
        failed = _failed_in((args, kwargs))  # it takes the result of a call that failed: it does not run
        if failed is not None:
            outcomes.append(failed.outcome())
            continue
        if checkpoints is not None:
            checkpoints.enter(i)
        try:
            outcomes.append(("ok", func(*args, **kwargs)))
        except BaseException as exc:
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            outcomes.append(("error", exc, _type_name(exc), str(exc), tb))
        finally:
            told = checkpoints is not None and checkpoints.leave()
        if told:
            outcomes[-1] = ("requeue", checkpoints.stop_reason())
    return outcomes


def checkpoint_module() -> types.ModuleType:
    """``clustrix.checkpoint`` as the function will import it: the installed one, else the
    copy staged next to this file, registered under that name (Clustrix need not be
    installed on the execution host, or may be an older version there)."""
    try:
        import clustrix.checkpoint as module

        return module
    except ImportError:
        pass
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), CHECKPOINT_MODULE)
    spec = importlib.util.spec_from_file_location("clustrix.checkpoint", path)
    if spec is None or spec.loader is None or not os.path.exists(path):
        raise ImportError(f"clustrix.checkpoint is neither installed nor staged at {path}")
    module = importlib.util.module_from_spec(spec)
    package = sys.modules.get("clustrix")
    if package is None:  # a namespace for the name only: nothing else of Clustrix is here
        package = types.ModuleType("clustrix")
        package.__path__ = []
        sys.modules["clustrix"] = package
    sys.modules["clustrix.checkpoint"] = module
    spec.loader.exec_module(module)
    package.checkpoint = module  # type: ignore[attr-defined]
    return module


class Checkpoints:
    """The element's calls' checkpoint files, and the scheduler's stop warning.

    In the main thread, SIGUSR1 and SIGTERM set ``checkpoint.stopping()`` (one line on
    stderr) instead of ending the process; the scheduler's SIGKILL still ends it when the
    function does not return in time. SIGTERM after the job was cancelled (``status/cancelled``)
    ends it at once, as before.
    """

    def __init__(self, jobdir: str, first_call: int, key: bytes) -> None:
        self.jobdir, self.first_call, self.key = jobdir, first_call, key
        self.module = checkpoint_module()
        self.dir = os.path.join(jobdir, CHECKPOINTS)
        os.makedirs(self.dir, mode=0o700, exist_ok=True)

    @classmethod
    def of(cls, jobdir: str, first_call: int, key: bytes) -> Checkpoints | None:
        """The element's checkpoints; None (and one line on stderr) when the module is missing."""
        try:
            return cls(jobdir, first_call, key)
        except (ImportError, OSError) as exc:
            print(f"clustrix: checkpoints unavailable ({exc}); the calls run without them", file=sys.stderr)
            return None

    def enter(self, i: int) -> None:
        path = os.path.join(self.dir, f"{self.first_call + i}.pkl")
        self.module.enter(path, self.key, checkpoint_writer)

    def leave(self) -> bool:
        return bool(self.module.leave())

    def stop_reason(self) -> str | None:
        return self.module.stop_reason()

    @contextlib.contextmanager
    def warnings_caught(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach the main thread only: threads mode runs without the warning
            return
        saved = {signum: signal.signal(signum, self._warned) for signum in WARNINGS}
        try:
            yield
        finally:
            for signum, old in saved.items():
                signal.signal(signum, old)

    def _warned(self, signum: int, frame: Any) -> None:
        if signum == signal.SIGTERM and os.path.exists(os.path.join(self.jobdir, "status", "cancelled")):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        if self.module.stop_reason() is None:
            with contextlib.suppress(OSError):  # not print(): the handler may interrupt a write to stderr
                os.write(2, f"clustrix: {signal.Signals(signum).name}: checkpoint.stopping() is now true\n".encode())
        self.module.request_stop(WARNINGS[signal.Signals(signum)])


def _type_name(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


def _dumps_entry(entry: tuple) -> bytes:
    """One call's outcome; an unpicklable value or exception becomes a described error."""
    try:
        return cloudpickle.dumps(entry)
    except BaseException as exc:  # a __reduce__ may raise anything, SystemExit included
        if entry[0] == "ok":
            err = TypeError(
                f"the function returned a {type(entry[1]).__name__} that cannot be "
                f"pickled ({type(exc).__name__}: {exc})"
            )
            return cloudpickle.dumps(("error", err, _type_name(err), str(err), ""))
        return cloudpickle.dumps(("error", None, entry[2], entry[3], entry[4]))


def sign(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).hexdigest().encode()


def encode(outcomes: list, key: bytes) -> bytes:
    """The result file: magic, HMAC of the body with the job's key, then the body."""
    body = pickle.dumps([_dumps_entry(entry) for entry in outcomes], protocol=4)
    return MAGIC + b" " + sign(key, body) + b"\n" + body


def read_key(jobdir: str) -> bytes:
    path = os.path.join(jobdir, KEY_FILE)
    try:
        with open(path, "rb") as f:
            key = f.read()
    except OSError as exc:
        raise RuntimeError(
            f"the job's key {path} cannot be read ({exc}); its result could not be authenticated"
        ) from None
    if len(key) < 16:
        raise RuntimeError(f"the job's key {path} is empty or truncated; its result could not be authenticated")
    return key


def write_atomic(path: str, data: bytes, sync_dir: bool = True) -> None:
    """Write all of ``data`` to a temporary file, check its size, fsync, rename over ``path``,
    fsync the directory (``sync_dir=False``: a later ``write_atomic`` in it will).

    A short write (file-size limit, full disk) raises and leaves neither ``path`` changed
    nor the temporary file behind.
    """
    tmp = f"{path}.{os.getpid()}.tmp"
    view = memoryview(data)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            written = 0
            while written < len(view):
                n = os.write(fd, view[written : written + (1 << 30)])
                if n <= 0:
                    raise OSError(f"write to {tmp} made no progress after {written} of {len(view)} bytes")
                written += n
            size = os.fstat(fd).st_size
            if size != len(view):
                raise OSError(f"{tmp} holds {size} bytes after writing {len(view)}")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if not sync_dir:
        return
    dirfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


#: how ``checkpoint.save`` writes a call's checkpoint file (looked up as each call starts).
#: A launcher that loads this module may replace it: the Kubernetes bootstrap also prints
#: each save to the pod log, the one channel out of a pod whose volume dies with it.
checkpoint_writer = write_atomic


def summary_of(path: str) -> str:
    """The summary next to a result file: ``results/E.pkl`` -> ``results/E.summary``."""
    return path[: -len(".pkl")] + ".summary" if path.endswith(".pkl") else path + ".summary"


def write_summary(path: str, outcomes: list, key: bytes) -> None:
    """What each call's outcome is ("ok", "error", ...), signed like the result: lets the
    client settle calls whose values it does not need here without fetching them."""
    body = json.dumps([entry[0] for entry in outcomes]).encode()
    # its directory is synced with the result's, written next (see publish)
    write_atomic(summary_of(path), MAGIC + b" " + sign(key, body) + b"\n" + body, sync_dir=False)


def read_summary(path: str, key: bytes) -> list:
    """The kinds a summary file lists, after checking its signature (ValueError if forged)."""
    with open(path, "rb") as f:
        header, _, body = f.read().partition(b"\n")
    magic, _, mac = header.partition(b" ")
    if magic != MAGIC or not hmac.compare_digest(sign(key, body), mac):
        raise ValueError(f"{path} is not signed with its job's key")
    kinds = json.loads(body)
    if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
        raise ValueError(f"{path} does not list outcome kinds")
    return kinds


def publish(path: str, outcomes: list, key: bytes) -> None:
    """Write the outcomes (their summary first: whoever sees the result finds it); if that
    fails (disk full, file-size limit), try a small error result naming why, and re-raise
    if even that cannot be written."""
    data = encode(outcomes, key)
    try:
        write_summary(path, outcomes, key)
        write_atomic(path, data)
    except OSError as exc:
        err = OSError(f"the result ({len(data)} bytes) could not be written on the execution host: {exc}")
        failed = [("error", err, _type_name(err), str(err), "")] * len(outcomes)
        fallback = encode(failed, key)
        try:
            write_summary(path, failed, key)
            write_atomic(path, fallback)
        except OSError:
            raise exc from None
        print(f"clustrix: {err}", file=sys.stderr)


class BoundedLog:
    """Appends to ``fd`` at most ``limit`` bytes: the first half as written, then a rolling
    tail of a quarter of the limit, with one line saying how many bytes were dropped between.

    Everything kept is on disk as soon as it is written (a job killed mid-output keeps its
    latest lines); the file never exceeds ``limit`` plus that line.
    """

    def __init__(self, fd: int, limit: int) -> None:
        self.fd, self.limit = fd, limit
        self.base = os.lseek(fd, 0, os.SEEK_END)
        self.head = limit // 2
        self.window = max(1, limit // 4)
        self.head_written = 0
        self.tail = bytearray()  # what is on disk after the head (and after the marker, if any)
        self.dropped = 0
        self.lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self.lock:
            if self.head_written < self.head:
                first = data[: self.head - self.head_written]
                self._append(first)
                self.head_written += len(first)
                data = data[len(first) :]
            if not data:
                return
            if len(self.tail) + len(data) <= 2 * self.window:
                self._append(data)
                self.tail += data
                return
            joined = self.tail + data
            self.dropped += len(joined) - self.window
            self.tail = joined[-self.window :]
            os.ftruncate(self.fd, self.base + self.head_written)
            os.lseek(self.fd, 0, os.SEEK_END)
            self._append(self.marker() + bytes(self.tail))

    def marker(self) -> bytes:
        return (
            f"\n[clustrix: {self.dropped} bytes of output dropped here: only the first and the last "
            f"bytes are kept (max_log_bytes={self.limit})]\n"
        ).encode()

    def _append(self, data: bytes) -> None:
        write_all(self.fd, data)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _drain(pipes: dict[int, BoundedLog]) -> None:
    """Copy each pipe into its log until every pipe is closed by all its writers."""
    while pipes:
        ready, _, _ = select.select(list(pipes), [], [])
        for read_fd in ready:
            try:
                chunk = os.read(read_fd, 1 << 16)
                if chunk:
                    pipes[read_fd].write(chunk)
                    continue
            except OSError:  # the log cannot be written (disk full): stop logging this stream
                pass
            os.close(read_fd)
            del pipes[read_fd]


def _close_all_but(keep: set[int]) -> None:
    try:
        limit = os.sysconf("SC_OPEN_MAX")
    except (OSError, ValueError):
        limit = 65536
    start = 0
    for fd in [*sorted(keep), max(limit, *keep) + 1]:
        if start < fd:  # an empty range may close everything (close_range(low, high - 1) wraps)
            os.closerange(start, fd)
        start = fd + 1


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _point(targets: dict[int, int]) -> dict[int, int]:
    """Point each fd at the fd ``targets`` gives for it (closing that one); returns copies
    of what they pointed at before, for :func:`_put_back`."""
    saved = {fd: os.dup(fd) for fd in targets}
    for fd, target in targets.items():
        os.dup2(target, fd)
        os.close(target)
    return saved


def _put_back(saved: dict) -> None:
    """Flush Python's streams, then point each fd back at the copy ``saved`` kept of it."""
    _flush_streams()
    for fd, copy in saved.items():
        os.dup2(copy, fd)
        os.close(copy)


def _fork_drain(keep: set[int], serve: Callable[[], None]) -> int:
    """Fork a drain process that keeps only fds 0, 1, 2 and ``keep`` and runs ``serve()``.

    It runs in its own session: when the job is killed (time limit, cancel) it still
    writes what was in its pipes, then ends. Returns its pid once it has left the job's
    process group (a job killing its group spares it).
    """
    ready_read, ready_write = os.pipe()
    _flush_streams()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with a timer thread: the child only copies bytes
        pid = os.fork()
    if pid == 0:  # the drain process
        code = 0
        try:
            os.setsid()
            os.close(ready_write)  # tells the runner the drain is out of the job's process group
            _close_all_but({0, 1, 2, *keep})  # our pipes' write ends, and whatever the runner's caller holds
            serve()
        except BaseException:
            code = 1
        os._exit(code)
    os.close(ready_write)
    os.read(ready_read, 1)  # returns once the drain left the group
    os.close(ready_read)
    return pid


@contextlib.contextmanager
def bounded_output(limit: int) -> Iterator[None]:
    """Bound what reaches fds 1 and 2 while the element runs, when they are files.

    The fds are re-pointed at pipes that a forked drain process copies into
    :class:`BoundedLog` writers, so C extensions and child processes are bounded too. The
    drain runs in its own session: when the job is killed (time limit, cancel) it still
    writes what was in the pipes, then ends. Only in the main thread: the fds belong to
    the whole process.
    """
    targets = []
    if limit > 0 and threading.current_thread() is threading.main_thread():
        for fd in (1, 2):
            with contextlib.suppress(OSError):
                st = os.fstat(fd)
                if stat.S_ISREG(st.st_mode):
                    targets.append((fd, (st.st_dev, st.st_ino)))
    if not targets:
        yield
        return
    logs: dict[tuple[int, int], BoundedLog] = {}
    pipes: dict[int, BoundedLog] = {}
    write_ends: dict[int, int] = {}
    for fd, inode in targets:
        read_fd, write_ends[fd] = os.pipe()
        pipes[read_fd] = logs.setdefault(inode, BoundedLog(fd, limit))
    pid = _fork_drain(set(pipes), lambda: _drain(pipes))
    for read_fd in pipes:
        os.close(read_fd)
    saved = _point(write_ends)
    try:
        yield
    finally:
        _put_back(saved)  # closes our end of the pipes: the drain sees the end once children let go
        _reap(pid, 5.0)  # a child that outlives the element keeps its pipe: do not wait for it longer


def _reap(pid: int, timeout: float) -> None:
    """Wait up to ``timeout`` seconds for child ``pid`` to end (a drain ends within a
    millisecond or two, and a worker runs many elements: woken at once where Linux has
    pidfds, else asking often at first)."""
    with contextlib.suppress(AttributeError, OSError):
        fd = os.pidfd_open(pid)  # Linux >= 5.3, Python >= 3.9 (else AttributeError: polling below)
        try:
            select.select([fd], [], [], timeout)
        finally:
            os.close(fd)
        os.waitpid(pid, os.WNOHANG)
        return
    deadline, pause = time.monotonic() + timeout, 0.0005
    while not os.waitpid(pid, os.WNOHANG)[0] and time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


class ElementLogs:
    """A worker's one drain process for all the elements it runs.

    While element E runs, fds 1 and 2 are pipes that the drain copies into ``logs/E.out``
    and ``logs/E.err``, bounded like :func:`bounded_output` (forking a drain per element
    cost a worker of tiny calls 3-4 ms an element, most of its time). The worker writes
    ``E`` on a control pipe to start an element's logs and ``-`` to end them, and waits for
    the drain's answer each time: by then every byte the element wrote is in its logs.
    Between elements (and from a child that outlives its element, until the next one
    starts) output goes to the worker's own stdout and stderr. The drain runs in its own
    session, so a job killed mid-element still has its last output written.
    """

    def __init__(self, jobdir: str, limit: int) -> None:
        (out_r, out_w), (err_r, err_w) = os.pipe(), os.pipe()
        (ctl_r, self.ctl), (self.ack, ack_w) = os.pipe(), os.pipe()
        self.pid = _fork_drain(
            {out_r, err_r, ctl_r, ack_w}, lambda: _serve_logs(jobdir, limit, {out_r: 1, err_r: 2}, ctl_r, ack_w)
        )
        for fd in (out_r, err_r, ctl_r, ack_w):
            os.close(fd)
        self.saved = _point({1: out_w, 2: err_w})

    def _say(self, line: str) -> None:
        _flush_streams()
        os.write(self.ctl, line.encode() + b"\n")
        if not os.read(self.ack, 1):
            raise RuntimeError("the worker's log drain ended")

    @contextlib.contextmanager
    def of(self, element: int) -> Iterator[None]:
        self._say(str(element))
        try:
            yield
        finally:
            self._say("-")

    def close(self) -> None:
        _put_back(self.saved)  # our write ends of the pipes closed: the drain ends once children let go
        os.close(self.ctl)
        os.close(self.ack)
        _reap(self.pid, 5.0)


def _serve_logs(jobdir: str, limit: int, streams: dict[int, int], ctl: int, ack: int) -> None:
    """The drain of :class:`ElementLogs`: ``streams`` maps each pipe to the fd (1 or 2) and
    the log (``out``, ``err``) it stands for; ``ctl`` brings ``E`` and ``-`` lines."""
    logs: dict[int, BoundedLog] = {}  # pipe -> the current element's log
    names = {1: "out", 2: "err"}
    for fd in streams:
        os.set_blocking(fd, False)

    def copy(fd: int) -> bool:
        """What the pipe holds now, into its log (else the worker's own fd); False at its end."""
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                return True
            if not chunk:
                return False
            with contextlib.suppress(OSError):  # the log cannot be written (disk full): drop it
                if fd in logs:
                    logs[fd].write(chunk)
                else:
                    write_all(streams[fd], chunk)

    def switch(line: bytes) -> None:
        for fd in list(streams):
            if not copy(fd):
                del streams[fd]
        for log in logs.values():
            os.close(log.fd)
        logs.clear()
        if line != b"-":
            for fd, target in streams.items():
                path = os.path.join(jobdir, "logs", f"{int(line)}.{names[target]}")
                logs[fd] = BoundedLog(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), limit)
        os.write(ack, b"k")

    pending = b""
    while ctl >= 0 or streams:
        ready, _, _ = select.select([*streams, *([ctl] if ctl >= 0 else [])], [], [])
        for fd in ready:
            if fd == ctl:
                chunk = os.read(ctl, 4096)
                if not chunk:  # the worker is gone: copy what its children still write, then end
                    os.close(ctl)
                    ctl = -1
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    switch(line)
            elif fd in streams and not copy(fd):
                del streams[fd]


def run_element(jobdir: str, element: int, manifest: dict | None = None, key: bytes | None = None) -> None:
    """Run every call of ``element`` and write ``results/ELEMENT.pkl`` (a worker passes the
    manifest and key it read once)."""
    if manifest is None:
        with open(os.path.join(jobdir, "manifest.json")) as f:
            manifest = json.load(f)
    key = read_key(jobdir) if key is None else key
    result = os.path.join(jobdir, "results", f"{element}.pkl")
    if os.path.exists(result):
        print(f"clustrix: {result} exists: element {element} already ran, not run again", file=sys.stderr)
        return
    with bounded_output(int(manifest.get("max_log_bytes") or 0)):
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        status = os.path.join(jobdir, "status", f"{element}.started")
        with open(status, "w") as f:
            json.dump(info, f)
        spec = manifest["elements"][element]
        checkpoints = Checkpoints.of(jobdir, spec["calls"][0], key)  # before unpickling: it may import it
        with checkpoints.warnings_caught() if checkpoints else contextlib.nullcontext():
            try:
                func = load_blob(jobdir, manifest, manifest["function"])
                calls = load_calls(jobdir, manifest, spec["blob"], key)
            except BaseException as exc:
                tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                n = spec["calls"][1] - spec["calls"][0]
                outcomes = [("error", exc, _type_name(exc), str(exc), tb)] * n
            else:
                outcomes = run_calls(func, calls, checkpoints)
        publish(result, outcomes, key)


# --- pipelines: arguments that are other calls' results (see clustrix.dependencies) ---

#: the persistent id tag of a reference to another call's result
REFERENCE = "clustrix-result"
DEPENDENCY_FAILED = "clustrix.errors.DependencyFailed"


class FailedDependency:
    """Stands in for the value of a call that failed: the call taking it does not run."""

    def __init__(self, parent: str, type_name: str, message: str, tb: str) -> None:
        self.parent, self.type_name, self.message, self.tb = parent, type_name, message, tb

    def outcome(self) -> tuple:
        text = json.dumps({"parent": self.parent, "type": self.type_name, "message": self.message})
        return ("error", None, DEPENDENCY_FAILED, text, self.tb)


def dependency_file(jobdir: str, parent: str) -> str:
    """Where the client puts a parent call's outcome (signed with THIS job's key) when the
    parent's own job dir is not on this host or no longer holds it."""
    return os.path.join(jobdir, f"dep.{parent}.pkl")


def read_signed(path: str, key: bytes) -> list:
    """The list of per-call outcome pickles in a result file, after checking its HMAC."""
    with open(path, "rb") as f:
        data = f.read()
    header, _, body = data.partition(b"\n")
    parts = header.split(b" ")
    if len(parts) != 2 or parts[0] != MAGIC or not hmac.compare_digest(sign(key, body), parts[1]):
        raise RuntimeError(f"{path} is not an authentic Clustrix result; refusing to unpickle it")
    entries = _BytesOnly(io.BytesIO(body)).load()
    if not isinstance(entries, list) or not all(isinstance(e, bytes) for e in entries):
        raise RuntimeError(f"{path}: authenticated but not a list of outcomes")
    return entries


class _BytesOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"a result file's outer layer may not name {module}.{name}")


class ReferenceResolver(pickle.Unpickler):
    """Unpickles a job's calls; a reference to another call's result becomes its value
    (read from the child's ``dep.*.pkl`` if present, else from the parent's result file
    in its job dir, each checked with the key of the job that signed it), or a
    :class:`FailedDependency` when that call failed or left no result."""

    def __init__(self, file: Any, jobdir: str, key: bytes, cache: dict) -> None:
        super().__init__(file)
        self.jobdir, self.key, self.cache = jobdir, key, cache

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == REFERENCE):
            raise pickle.UnpicklingError(f"unknown persistent reference {pid!r}")
        _, parent, parent_dir, element, offset = pid
        local = dependency_file(self.jobdir, parent)
        if os.path.exists(local):
            raw = read_signed(local, self.key)[0]
        else:
            path = os.path.join(parent_dir, "results", f"{int(element)}.pkl")
            if path not in self.cache:
                if not os.path.exists(path):
                    why = "it ended without a result (killed, cancelled, or its files were removed)"
                    return FailedDependency(parent, "clustrix.errors.JobFailed", why, "")
                self.cache[path] = read_signed(path, read_key(parent_dir))
            raw = self.cache[path][int(offset)]
        entry = cloudpickle.loads(raw)
        if entry[0] == "ok":
            return entry[1]
        if entry[2] == DEPENDENCY_FAILED:  # the parent never ran either: name the first call that failed
            with contextlib.suppress(ValueError, KeyError, TypeError):
                root = json.loads(entry[3])
                message = f"{root['message']} (in job {root['parent']}, whose result job {parent} took)"
                return FailedDependency(parent, root["type"], message, entry[4])
        return FailedDependency(parent, entry[2], entry[3], entry[4])


def load_calls(jobdir: str, manifest: dict, digest: str, key: bytes) -> list:
    """The element's (args, kwargs) calls, references to other calls' results resolved."""
    path = os.path.join(jobdir, manifest["blobs"], digest)
    with open(path, "rb") as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() != digest:
        raise RuntimeError(f"payload {path} is corrupted: its sha256 is not {digest}")
    return ReferenceResolver(io.BytesIO(data), jobdir, key, {}).load()


def _failed_in(value: Any, depth: int = 0) -> Any:
    if isinstance(value, FailedDependency):
        return value
    if depth < 50 and isinstance(value, (list, tuple)):
        items: Any = value
    elif depth < 50 and isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    else:
        return None
    for item in items:
        found = _failed_in(item, depth + 1)
        if found is not None:
            return found
    return None


# --- workers: array tasks that claim elements (see the module docstring) ---

CLAIMS = "claims"


def _mark(claims: str, element: int, worker: int) -> None:
    """``claims/E.W``: who holds the element (the client reads W's state for it) and where (host, pid)."""
    with open(os.path.join(claims, f"{element}.{worker}"), "w") as f:
        f.write(f"{socket.gethostname()} {os.getpid()}\n")


def claim(jobdir: str, element: int, worker: int) -> bool:
    """Take ``element`` for ``worker``: True for exactly one caller, whoever else tries."""
    claims = os.path.join(jobdir, CLAIMS)
    try:
        fd = os.open(os.path.join(claims, str(element)), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    _mark(claims, element, worker)
    return True


def _dead_here(path: str) -> bool:
    """Whether the holder a claim marker names ran on this host and its process is gone."""
    try:
        with open(path) as f:
            host, pid = f.read().split()
        if host != socket.gethostname():
            return False  # on another node: the client learns its end from the scheduler
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (OSError, ValueError):
        return False
    return False


def take_over(jobdir: str, worker: int) -> int | None:
    """An element whose holder died on this host without its result, now held by ``worker``.

    ``claims/E.released`` is created with ``O_EXCL`` first: an element is released once,
    by a worker or by the client (the scheduler said its worker ended), never twice.
    """
    claims = os.path.join(jobdir, CLAIMS)
    for name in sorted(os.listdir(claims)):
        parts = name.split(".")
        if len(parts) != 2 or not all(part.isdigit() for part in parts):
            continue
        element = int(parts[0])
        if os.path.exists(os.path.join(jobdir, "results", f"{element}.pkl")) or not _dead_here(
            os.path.join(claims, name)
        ):
            continue
        try:
            os.close(os.open(os.path.join(claims, f"{element}.released"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue
        with contextlib.suppress(OSError):
            os.rename(os.path.join(claims, name), os.path.join(claims, f"{name}.released"))
        _mark(claims, element, worker)
        print(f"clustrix: element {element}: its worker {parts[1]} died on this host; worker {worker} runs it again")
        return element
    return None


@contextlib.contextmanager
def element_logs(jobdir: str, element: int) -> Iterator[None]:
    """fds 1 and 2 on the element's log files (appended) while it runs, then back."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    try:
        for fd, name in ((1, "out"), (2, "err")):
            log = os.open(
                os.path.join(jobdir, "logs", f"{element}.{name}"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
            )
            os.dup2(log, fd)
            os.close(log)
        yield
    finally:
        _put_back(saved)


def run_worker(jobdir: str, worker: int) -> int:
    """Claim and run elements until none is left; returns how many this worker ran."""
    with open(os.path.join(jobdir, "manifest.json")) as f:
        manifest = json.load(f)
    n = len(manifest["elements"])
    claims = os.path.join(jobdir, CLAIMS)
    os.makedirs(claims, mode=0o700, exist_ok=True)
    warned = []
    if threading.current_thread() is threading.main_thread():  # between elements the warning only stops claims
        signal.signal(signal.SIGUSR1, lambda signum, frame: warned.append(signum))
    ran = 0

    def first_free(start: int) -> int | None:
        for element in range(start, n):  # a failed O_EXCL costs one system call: no listing of claims/
            if not os.path.exists(os.path.join(jobdir, "results", f"{element}.pkl")) and claim(jobdir, element, worker):
                return element
        return None

    def claimed() -> Iterator[int]:
        """The elements this worker takes, one at a time, until none is left or it was warned:
        onwards from the last one, then from the top (claims the client released meanwhile),
        then those whose holder died on this host."""
        cursor = 0
        while not warned:
            element = first_free(cursor)
            if element is None:
                element = first_free(0) if cursor else None
                element = take_over(jobdir, worker) if element is None else element
            if element is None:
                return
            cursor = element + 1
            yield element

    key, limit = read_key(jobdir), int(manifest.get("max_log_bytes") or 0)
    drain = ElementLogs(jobdir, limit) if limit > 0 else None
    try:
        for element in claimed():
            os.environ["CLUSTRIX_ELEMENT"] = str(element)  # as a task running one element has it
            with drain.of(element) if drain else element_logs(jobdir, element):
                run_element(jobdir, element, manifest, key)
            ran += 1
            with contextlib.suppress(ImportError):
                if checkpoint_module().stop_reason() is not None:  # warned while the element ran
                    warned.append(signal.SIGUSR1)
    finally:
        if drain:
            drain.close()
    print(f"clustrix: worker {worker} ran {ran} elements" + (" (warned: claims no more)" if warned else ""))
    return ran


def main(argv: list) -> int:
    if len(argv) == 3 and argv[1] == "--worker":
        sys.path.insert(0, os.getcwd())
        run_worker(os.path.abspath(argv[0]), int(argv[2]))
        return 0
    if len(argv) != 2:
        print("usage: runner.py JOBDIR ELEMENT  |  runner.py JOBDIR --worker W", file=sys.stderr)
        return 2
    jobdir, element = os.path.abspath(argv[0]), int(argv[1])
    sys.path.insert(0, os.getcwd())
    run_element(jobdir, element)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
