"""The remote work directory must be private to the user before anything is staged in it.

Job directories hold the payload the job will unpickle and run, and the key its results
are signed with; a directory another user can write to (or owns) on the way there lets
them swap either. Checked once per transport and work directory, through the transport
(one command), before the first job is staged; directories Clustrix creates are 0700.
"""

from __future__ import annotations

import posixpath
import threading
from typing import TYPE_CHECKING

from .errors import UnsafeWorkDir
from .hookspecs import hookimpl
from .transport import Transport

if TYPE_CHECKING:
    from .job import Job
    from .target import Target

#: prints the user's uid, then "UID MODE PATH" for each existing path (GNU stat, else BSD stat)
_STAT = """\
id -u
for p in "$@"; do
  if [ -e "$p" ]; then stat -L -c '%u %a %n' -- "$p" 2>/dev/null || stat -L -f '%u %Mp%Lp %N' -- "$p"; fi
done
"""

_checked: set[tuple[str, str]] = set()
_lock = threading.Lock()


def directories_to_check(work: str) -> list[str]:
    """Every directory from the root (or the login directory, for a relative path) down to
    the work directory, then the ``jobs`` and ``blobs`` directories in it."""
    work = posixpath.normpath(work)
    parts = [p for p in work.split("/") if p]
    prefix = "/" if work.startswith("/") else ""
    paths = ["/"] if prefix else ["."]
    paths += [prefix + "/".join(parts[: i + 1]) for i in range(len(parts))]
    return [*paths, f"{work}/jobs", f"{work}/blobs"]


def unsafe(uid: int, owner: int, mode: int) -> str | None:
    """Why a directory with this owner and mode is unsafe for ``uid``'s jobs, or None."""
    if owner not in (uid, 0):
        return f"is owned by uid {owner}, not by you (uid {uid}) or root"
    if mode & 0o002 and not mode & 0o1000:
        return f"is writable by every user (mode {mode & 0o7777:04o}, no sticky bit)"
    return None


def check_work_dir(transport: Transport, work: str) -> None:
    """Raise UnsafeWorkDir if another user could change ``work`` or a directory above it."""
    key = (transport.where, work)
    with _lock:
        if key in _checked:
            return
    done = transport.run(["sh", "-c", _STAT, "sh", *directories_to_check(work)]).check()
    lines = done.stdout.splitlines()
    uid = int(lines[0])
    for line in lines[1:]:
        owner, mode, path = line.split(" ", 2)
        why = unsafe(uid, int(owner), int(mode, 8))
        if why:
            raise UnsafeWorkDir(
                f"remote_work_dir {work!r} on {transport.where}: {path} {why}, so another user could replace "
                "your jobs' code or results. Choose a directory only you can write (the default ~/.clustrix), "
                f"or fix it (`chmod o-w,+t {path}` for a shared directory; your own directory for the rest)."
            )
    with _lock:
        _checked.add(key)


def check_job(job: Job, target: Target) -> None:
    """Check the work directory of a job that is staged elsewhere (cached: one command per
    target); called before the environment step, which may build a venv in it."""
    if str(job.local_dir) != job.remote_dir:
        check_work_dir(target.transport, job.remote_work_dir)


class WorkDirCheck:
    """First link of staging: refuse an unsafe work directory before anything is put there
    (for callers of ``clustrix_stage`` other than ``lifecycle.submit``, which checks first)."""

    @hookimpl(tryfirst=True)
    def clustrix_stage(self, job: Job, target: Target) -> None:
        check_job(job, target)


plugin = WorkDirCheck()
