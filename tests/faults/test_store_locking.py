"""A busy job store fails a write within a bound and names the lock's holder; a home on a
network filesystem does not use WAL."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from clustrix.errors import StoreBusy
from clustrix.job import Job
from clustrix.store import Store, filesystem_type

HOLD_LOCK = textwrap.dedent(
    """
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    sys.stdin.readline()
    db.execute("ROLLBACK")
    """
)


def _job(job_id: str, tmp_path: Path) -> Job:
    return Job(job_id, "f", "local", {}, tmp_path / job_id, str(tmp_path / job_id), 1, 1)


def _nfs_mounts(tmp_path: Path) -> Path:
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/vda / ext4 rw,relatime 0 0\nfiler:/export/home {tmp_path} nfs4 rw,relatime,vers=4.2 0 0\n")
    return mounts


@pytest.mark.parametrize("filesystem", ["local", "nfs"])
def test_write_to_a_locked_store_fails_within_its_bound_naming_the_holder(tmp_path: Path, filesystem: str) -> None:
    path = tmp_path / "jobs.sqlite"
    mounts = _nfs_mounts(tmp_path) if filesystem == "nfs" else Path("/proc/mounts")
    store = Store(path, busy_timeout=1.0, mounts=mounts)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    outcome: list[BaseException | None] = []

    def write() -> None:
        try:
            store.record(_job("c1", tmp_path), "{}")
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        writer.join(timeout=120)  # a hang guard, not a speed check: the bound is 1 s
        assert outcome, "the write still waits for the lock"
    finally:
        holder.communicate("\n", timeout=30)
    error = outcome[0]
    assert isinstance(error, StoreBusy), error
    assert f"pid {holder.pid} ({sys.executable}" in str(error)
    store.record(_job("c2", tmp_path), "{}")  # released: writes go through again
    assert store.count_jobs() == 1


def test_store_on_an_nfs_home_uses_the_rollback_journal_not_wal(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    store = Store(path, mounts=_nfs_mounts(tmp_path))
    store.record(_job("c1", tmp_path), "{}")
    assert store.journal_mode == "DELETE"
    assert store._read("PRAGMA journal_mode")[0][0] == "delete"
    assert not path.with_name("jobs.sqlite-wal").exists()
    assert Store(tmp_path / "other" / "jobs.sqlite").journal_mode == "WAL"  # this machine's /tmp: local


def test_filesystem_type_takes_the_longest_mount_point_and_decodes_escapes() -> None:
    mounts = (
        "/dev/vda / ext4 rw 0 0\n"
        "filer:/home /home nfs rw 0 0\n"
        "tmpfs /home/me/fast\\040disk tmpfs rw 0 0\n"
        "filer:/homes /home2 nfs4 rw 0 0\n"
    )
    assert filesystem_type(Path("/home/me/.local/share/clustrix"), mounts) == "nfs"
    assert filesystem_type(Path("/home/me/fast disk/clustrix"), mounts) == "tmpfs"
    assert filesystem_type(Path("/home2x/me"), mounts) == "ext4"
    assert filesystem_type(Path("/home2/me"), mounts) == "nfs4"
