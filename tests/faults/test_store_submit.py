"""What the job store keeps when a submission goes wrong: no orphan, no phantom."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from clustrix import cluster
from clustrix.errors import ConfigError, StoreError
from clustrix.hookspecs import hookimpl
from clustrix.plugins import manager
from clustrix.store import Store


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class BreakStoreAfterSubmit:
    """A store that fails right after the backend accepted the job (here: its connection is gone)."""

    def __init__(self) -> None:
        self.native_ids: list[str] = []

    @hookimpl(wrapper=True)
    def clustrix_submit(self, job: Any, target: Any) -> Generator[None, Any, Any]:
        native_id = yield
        self.native_ids.append(native_id)
        target.store.close()
        return native_id


def test_store_failure_after_submit_cancels_the_job_and_says_where_it_ran(clustrix_home: Path) -> None:
    @cluster(cluster_type="local")
    def nap() -> str:
        import time

        time.sleep(300)
        return "woke up"

    spy = BreakStoreAfterSubmit()
    manager().register(spy, name="break-store")
    try:
        with pytest.raises(StoreError) as info:
            nap.submit()
        pid = int(spy.native_ids[-1])
        message = str(info.value)
        assert f"local id {pid} on this machine" in message and "It was cancelled" in message
        deadline = time.monotonic() + 60
        while _alive(pid) and time.monotonic() < deadline:  # SIGTERM sent: wait until it acted
            time.sleep(0.1)
        assert not _alive(pid), "the job kept running, unknown to the job store"
    finally:
        manager().unregister("break-store")
        for native_id in spy.native_ids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(native_id), signal.SIGKILL)


class StageRejectsConfig:
    """A backend whose staging finds a configuration error (as a scheduler plugin does for a bad value)."""

    @hookimpl
    def clustrix_stage(self, job: Any, target: Any) -> None:
        raise ConfigError("partition: 'gpu nodes' is not a valid value")

    @hookimpl
    def clustrix_submit(self, job: Any, target: Any) -> str:
        raise AssertionError("never reached")

    @hookimpl
    def clustrix_status(self, jobs: Any, target: Any) -> dict[str, Any]:
        raise AssertionError("never reached")

    @hookimpl
    def clustrix_cancel(self, jobs: Any, target: Any) -> bool:
        raise AssertionError("never reached")


def test_configuration_error_while_staging_leaves_no_record_and_no_job_dir(clustrix_home: Path) -> None:
    manager().register(StageRejectsConfig(), name="stage-rejects")
    try:
        with pytest.raises(ConfigError, match="partition"):
            cluster(cluster_type="stage-rejects")(lambda: 1).submit()
    finally:
        manager().unregister("stage-rejects")
    store = Store(clustrix_home / "jobs.sqlite")
    assert [dict(r) for r in store.jobs(limit=None)] == []
    assert list((clustrix_home / "jobs").iterdir()) == []


def test_slurm_directive_error_found_while_staging_leaves_no_record(clustrix_home: Path) -> None:
    with pytest.raises(ConfigError, match="partition"):
        cluster(cluster_type="slurm", partition="gpu nodes")(lambda: 1).submit()
    assert Store(clustrix_home / "jobs.sqlite").count_jobs() == 0
