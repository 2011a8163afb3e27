"""The job store: records survive concurrency, come before submit returns, and migrate."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from clustrix import ClustrixError, JobNotFound, cluster
from clustrix.hookspecs import hookimpl
from clustrix.job import State
from clustrix.plugins import manager
from clustrix.store import MIGRATIONS, Store, open_store

SUBMIT_200 = textwrap.dedent(
    """
    import os, sys, time
    from clustrix import cluster
    from clustrix.hookspecs import hookimpl
    from clustrix.job import JobStatus, State
    from clustrix.plugins import manager

    class Instant:
        '''A backend that accepts at once and reports RUNNING: the store is what is under test.'''
        @hookimpl
        def clustrix_submit(self, job, target):
            return "native-" + job.job_id
        @hookimpl
        def clustrix_status(self, jobs, target):
            return {j.job_id: JobStatus(State.RUNNING) for j in jobs}
        @hookimpl
        def clustrix_cancel(self, jobs, target):
            return True

    manager().register(Instant(), name="instant")

    @cluster(cluster_type="instant", poll_interval=0.01, max_poll_interval=0.02)
    def identity(x):
        return x

    while not os.path.exists(sys.argv[1]):  # start together with the other process
        time.sleep(0.01)
    ids = [identity.submit(i).job_id for i in range(200)]
    print(len(set(ids)))
    """
)


def test_two_processes_submitting_200_jobs_each_lose_no_record(tmp_path: Path, clustrix_home: Path) -> None:
    gate = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SUBMIT_200, str(gate)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
        for _ in range(2)
    ]
    time.sleep(0.5)  # let both import clustrix; correctness does not depend on this
    gate.touch()
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert "database is locked" not in err
        assert proc.returncode == 0, err
        assert out.strip() == "200"
    store = open_store(clustrix_home)
    rows = store.jobs(limit=None)
    assert len(rows) == 400
    assert store.count() == 400
    assert all(r["native_id"] == "native-" + r["job_id"] for r in rows)


def test_job_is_in_the_store_before_the_backend_is_asked_to_submit(clustrix_home: Path) -> None:
    seen: dict[str, str] = {}

    class Recording:
        @hookimpl
        def clustrix_submit(self, job, target):
            seen["state"] = open_store(clustrix_home).row(job.job_id)["state"]
            return "1"

        @hookimpl
        def clustrix_status(self, jobs, target):
            return {}

        @hookimpl
        def clustrix_cancel(self, jobs, target):
            return True

    manager().register(Recording(), name="recording")
    try:
        future = cluster(cluster_type="recording")(lambda: 1).submit()
        assert seen["state"] == "SUBMITTING"
        row = open_store(clustrix_home).row(future.job_id)
        assert (row["state"], row["native_id"], row["backend"]) == ("PENDING", "1", "recording")
    finally:
        manager().unregister("recording")


def _v1_store(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    target = json.dumps({"cluster_host": "login.example.org", "cluster_type": "slurm"})
    settings = json.dumps({"profile": "hpc", "cores": 4})
    for job_id, state in (("cold", "COMPLETED"), ("warm", "RUNNING")):
        db.execute(
            "INSERT INTO jobs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (job_id, "simulate", "slurm", target, settings, "42", "/l", "/r", 1, 1, state, 1.0, 2.0),
        )
        db.execute("INSERT INTO calls VALUES (?,?,?,?,?)", (job_id, job_id, 0, state, 2.0))
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()


def test_version_1_store_is_migrated_and_keeps_its_jobs(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    _v1_store(path)
    store = Store(path)
    assert store.version == len(MIGRATIONS)
    cold, warm = store.row("cold"), store.row("warm")
    assert (cold["host"], cold["profile"], cold["finished"]) == ("login.example.org", "hpc", 2.0)
    assert warm["finished"] is None
    job, _, state = store.job("cold")
    assert (job.function, job.native_id, job.settings["cores"], state) == ("simulate", "42", 4, "COMPLETED")
    assert [r["job_id"] for r in store.finished_before(10.0)] == ["cold"]


def test_store_from_a_newer_clustrix_is_refused_with_upgrade_advice(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(ClustrixError, match="pip install -U clustrix"):
        Store(path)


def test_late_running_state_does_not_overwrite_a_final_one(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    _v1_store(path)
    store = Store(path)
    store.set_states({"cold": State.RUNNING}, {"cold": State.RUNNING, "warm": State.RUNNING})
    assert store.row("cold")["state"] == "COMPLETED"
    assert store.call_states("cold") == {0: "COMPLETED"}
    store.set_states({"warm": State.FAILED}, {"warm": State.FAILED})
    assert store.row("warm")["state"] == "FAILED"
    assert store.row("warm")["finished"] is not None


@cluster
def fails_on_seven(x: int) -> int:
    if x == 7:
        raise ValueError("seven")
    return x


def test_a_map_costs_a_row_per_element_and_another_process_reads_each_call(clustrix_home: Path) -> None:
    futures = fails_on_seven.map(range(300))  # 60 elements of 5 calls; call 7 in element 1
    assert [f.exception(timeout=120) is None for f in futures].count(False) == 1
    job = futures.job
    store = open_store(clustrix_home)
    deadline = time.monotonic() + 60
    while store.row(job.job_id)["state"] != "FAILED":  # written before the futures were, by the watcher
        assert time.monotonic() < deadline, store.row(job.job_id)["state"]
        time.sleep(0.05)
    db = sqlite3.connect(clustrix_home / "jobs.sqlite")
    calls = db.execute("SELECT idx, state FROM calls WHERE job_id=? ORDER BY idx", (job.job_id,)).fetchall()
    elements = db.execute("SELECT COUNT(*) FROM elements WHERE job_id=?", (job.job_id,)).fetchone()[0]
    db.close()
    assert calls == [(5, "COMPLETED"), (6, "COMPLETED"), (7, "FAILED"), (8, "COMPLETED"), (9, "COMPLETED")]
    assert elements == job.n_elements - 1 == 59  # every element but the one whose calls differ
    shown = subprocess.run(
        [sys.executable, "-m", "clustrix", "status", job.job_id, f"{job.job_id}.7", f"{job.job_id}.299", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    whole, seventh, last = json.loads(shown.stdout)
    assert (whole["state"], seventh["state"], last["state"]) == ("FAILED", "FAILED", "COMPLETED")
    assert whole["call_states"] == {str(i): "FAILED" if i == 7 else "COMPLETED" for i in range(300)}
    missing = subprocess.run(
        [sys.executable, "-m", "clustrix", "status", f"{job.job_id}.300"], capture_output=True, text=True, timeout=120
    )
    assert missing.returncode == 1 and "no job" in missing.stderr


def test_version_4_store_with_a_live_map_is_migrated_and_its_calls_follow_their_job(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    db = sqlite3.connect(path)
    for step in MIGRATIONS[:4]:
        db.executescript(step)
    db.execute(
        "INSERT INTO jobs (job_id, function, backend, target, settings, native_id, local_dir, remote_dir,"
        " n_calls, tasks_per_element, state, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        ("live", "simulate", "slurm", "{}", "{}", "42", "/l", "/r", 3, 1, "PENDING", 1.0, 2.0),
    )
    for index, state in enumerate(("PENDING", "CANCELLED", "PENDING")):  # a version-4 store: a row per call
        db.execute("INSERT INTO calls VALUES (?,?,?,?,?)", (f"live.{index}", "live", index, state, 2.0))
    db.execute("PRAGMA user_version=4")
    db.commit()
    db.close()
    store = Store(path)
    assert store.version == len(MIGRATIONS) == 5
    assert store.call_states("live") == {0: "PENDING", 1: "CANCELLED", 2: "PENDING"}
    store.set_states({}, {"live": State.RUNNING}, element_states={("live", 0): State.COMPLETED})
    assert store.call_states("live") == {0: "COMPLETED", 1: "CANCELLED", 2: "RUNNING"}
    assert store.call("live.2") == ("live", 2, "RUNNING") and store.call("live.1") == ("live", 1, "CANCELLED")
    assert store.count() == 3
    with pytest.raises(JobNotFound):
        store.call("live.3")
    store.set_job_state("live", State.CANCELLED)
    assert set(store.call_states("live").values()) == {"CANCELLED"}
