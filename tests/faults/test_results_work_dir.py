"""Job directories on the execution host are private, and a work directory other users
could change is refused before anything is staged in it.

Against the real loopback sshd (jobs run as the unprivileged test user) and real Slurm
on this host (staged through the local transport).
"""

from __future__ import annotations

import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from clustrix import cluster
from clustrix.errors import ConfigError
from infrastructure import LOOPBACK_SSH, require


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A fresh directory under /tmp, reachable by the SSH test user; removed afterwards."""
    path = Path("/tmp") / f"clustrix-faults-{uuid.uuid4().hex[:10]}"
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def ssh_options() -> dict:
    require("ssh")
    return {"cluster_type": "ssh", **LOOPBACK_SSH}


def _submit_trivial(options: dict, **more) -> None:
    @cluster(**options, **more)
    def one():
        return 1

    assert one() == 1


def test_work_dir_writable_by_every_user_is_refused_before_anything_is_staged(shared_dir, ssh_options):
    shared_dir.chmod(0o777)  # no sticky bit: anyone may rename or replace what is inside
    work = shared_dir / "work"
    with pytest.raises(ConfigError, match="writable by every user") as info:
        _submit_trivial(ssh_options, remote_work_dir=str(work))
    assert type(info.value).__name__ == "UnsafeWorkDir"
    assert not work.exists()


def test_work_dir_owned_by_another_user_is_refused(shared_dir, ssh_options):
    shared_dir.chmod(0o755)
    if os.geteuid() == 0:  # as root, hand it to another user; otherwise it is already not the SSH user's
        shared_dir.chmod(0o777)
        os.chown(shared_dir, 65534, 65534)  # nobody
        shared_dir.chmod(0o755)
    with pytest.raises(ConfigError, match="is owned by uid") as info:
        _submit_trivial(ssh_options, remote_work_dir=str(shared_dir))
    assert type(info.value).__name__ == "UnsafeWorkDir"
    assert not (shared_dir / "jobs").exists()


def test_work_dir_under_a_sticky_shared_directory_is_accepted(shared_dir, ssh_options):
    shared_dir.chmod(0o1777)  # like /tmp
    _submit_trivial(ssh_options, remote_work_dir=str(shared_dir / "work"))


def test_directories_made_for_jobs_are_0700_parents_included(tmp_path):
    require("slurm")
    old_umask = os.umask(0o022)
    try:
        work = tmp_path / "fresh" / "deeper" / "work"

        @cluster(cluster_type="slurm", memory="256MB", remote_work_dir=str(work), keep_files=True)
        def one():
            return 1

        future = one.submit()
        assert future.result(timeout=300) == 1
    finally:
        os.umask(old_umask)
    made = [tmp_path / "fresh", tmp_path / "fresh" / "deeper", work, work / "jobs", work / "blobs"]
    made += [Path(future.job.remote_dir), Path(future.job.remote_dir) / "results"]
    assert {str(p): oct(_mode(p)) for p in made} == {str(p): oct(0o700) for p in made}
