"""Retries without a cluster: which ended elements run again, escalation and its caps, the
retry settings refused at decoration, the attempts table of an older store, Slurm's limits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clustrix import cluster
from clustrix.config import check_decorator_kwargs, read_toml, resolve
from clustrix.errors import ConfigError, JobTimeout, SubmissionRejected
from clustrix.hookspecs import hookimpl
from clustrix.job import Job, State
from clustrix.job_access import store_here
from clustrix.plugins import manager
from clustrix.retry import attempts_left, decide, escalated, requeue_state, story
from clustrix.store import MIGRATIONS, Store
from clustrix_slurm.parsing import parse_partition_limits


def _job(**settings: Any) -> Job:
    values = dict(resolve(settings, manager().settings()).values)
    return Job("c1", "f", "slurm", values, Path("/l"), "/r", n_calls=1, tasks_per_element=1)


class Flaky(ConnectionError):
    pass


def _error(exc: BaseException) -> tuple[Any, ...]:
    return ("error", exc, type(exc).__qualname__, str(exc), "")


@pytest.mark.parametrize("state", [State.OUT_OF_MEMORY, State.TIMEOUT, State.PREEMPTED, State.NODE_FAIL, State.LOST])
def test_an_element_the_cluster_killed_is_retried(state: State) -> None:
    assert decide(_job(retries=1), state, None) == (state, f"the element ended {state.value}")


@pytest.mark.parametrize("state", [State.CANCELLED, State.FAILED, State.REJECTED, State.COMPLETED])
def test_an_element_cancelled_or_failed_on_its_own_is_not_retried(state: State) -> None:
    assert decide(_job(retries=1), state, None) is None


def test_a_users_exception_is_retried_only_when_named_in_retry_on() -> None:
    raised = [_error(Flaky("down"))]
    assert decide(_job(retries=1), State.COMPLETED, raised) is None
    assert decide(_job(retries=1, retry_on=(ValueError,)), State.COMPLETED, raised) is None
    verdict = decide(_job(retries=1, retry_on=(ConnectionError,)), State.COMPLETED, raised)
    assert verdict is not None and verdict[0] == State.FAILED and "ConnectionError" in verdict[1]
    # a subclass of a user module, named by its qualified name (what another process has)
    named = f"{Flaky.__module__}.Flaky"
    assert decide(_job(retries=1, retry_on=(Flaky,)), State.COMPLETED, raised) is not None
    assert _job(retry_on=(Flaky, OSError)).settings["retry_on"] == [named, "OSError"]
    # an exception that could not be pickled back is judged by its type name
    assert decide(_job(retry_on=(Flaky,)), State.COMPLETED, [("error", None, named, "down", "")]) is not None


def test_a_requeue_outcome_is_retried_as_timeout_or_preemption() -> None:
    assert decide(_job(), State.COMPLETED, [("requeue", "walltime warning (SIGUSR1)")]) == (
        State.TIMEOUT,
        "requeued: walltime warning (SIGUSR1)",
    )
    assert requeue_state("preempted: SIGTERM from the scheduler") == State.PREEMPTED
    assert requeue_state("time limit near") == State.TIMEOUT
    # the element's state wins when the scheduler names the kill (a Kubernetes pod past its deadline gets SIGTERM)
    assert decide(_job(), State.TIMEOUT, [("requeue", "terminated: SIGTERM")]) == (
        State.TIMEOUT,
        "requeued: terminated: SIGTERM",
    )


def test_attempts_left_counts_retries() -> None:
    job = _job(retries=2)
    assert attempts_left(job)
    job.attempt = 3
    assert not attempts_left(job)
    assert not attempts_left(_job())


def test_memory_escalates_on_out_of_memory_only_and_compounds() -> None:
    settings = _job(memory="200MB", time="10m", escalate={"memory": 2.0, "time": 1.5}).settings
    second = escalated(settings, {State.OUT_OF_MEMORY})
    assert (second["memory"], second["time"]) == ("400MB", "10m")
    third = escalated(second, {State.OUT_OF_MEMORY, State.TIMEOUT})
    assert (third["memory"], third["time"]) == ("800MB", "00:15:00")
    assert escalated(settings, {State.PREEMPTED}) == settings


def test_escalation_is_capped_by_the_partitions_limits() -> None:
    settings = _job(memory="3G", time="02:00:00", escalate={"memory": 4.0, "time": 4.0}).settings
    grown = escalated(settings, {State.OUT_OF_MEMORY, State.TIMEOUT}, {"memory": 8 * 2**30, "time": 6 * 3600})
    assert (grown["memory"], grown["time"]) == ("8192M", "06:00:00")


def test_escalate_without_a_base_value_leaves_it_to_the_scheduler() -> None:
    settings = _job(escalate={"memory": 2.0}).settings
    assert escalated(settings, {State.OUT_OF_MEMORY})["memory"] is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"cores": 2.0}, "'cores' cannot be escalated"),
        ({"memory": 1.0}, "must be a number above 1"),
        ({"memory": "2"}, "must be a number above 1"),
        ({"time": float("inf")}, "must be a number above 1"),
    ],
)
def test_bad_escalate_is_refused_at_decoration(value: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        cluster(escalate=value)


def test_bad_retries_and_retry_on_are_refused_at_decoration() -> None:
    with pytest.raises(ConfigError, match="retries=-1 is out of range"):
        cluster(retries=-1)
    with pytest.raises(ConfigError, match="is not an exception class"):
        cluster(retry_on=(int,))
    assert check_decorator_kwargs({"retry_on": ConnectionError}, manager().settings())


def test_retry_on_is_refused_in_a_config_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "clustrix.toml"
    path.write_text('retry_on = ["ConnectionError"]\n')
    with pytest.raises(ConfigError, match="only Python code can give"):
        read_toml(path, manager().settings())
    monkeypatch.setenv("CLUSTRIX_RETRY_ON", "ConnectionError")
    with pytest.raises(ConfigError, match="CLUSTRIX_RETRY_ON: retry_on names exception classes"):
        resolve({}, manager().settings())


def test_a_store_from_before_retries_gets_one_attempt_per_job(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    import sqlite3

    db = sqlite3.connect(path)
    for step in MIGRATIONS[:2]:
        db.executescript(step)
    settings = json.dumps({"memory": "2GB", "time": "1h"})
    db.execute(
        "INSERT INTO jobs (job_id, function, backend, target, settings, native_id, local_dir, remote_dir,"
        " n_calls, tasks_per_element, state, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        ("old", "simulate", "slurm", "{}", settings, "42", "/l", "/r", 1, 1, "COMPLETED", 1.0, 2.0),
    )
    db.execute("PRAGMA user_version=2")
    db.commit()
    db.close()
    store = Store(path)
    job, _, _ = store.job("old")
    assert job.attempt == 1
    (row,) = store.attempts("old")
    assert (row["attempt"], row["native_id"], row["state"]) == (1, "42", "COMPLETED")
    assert json.loads(row["resources"]) == {"memory": "2GB", "time": "1h"}


def test_story_names_each_attempts_state_resources_and_native_id() -> None:
    job = _job(memory="200MB")
    job.attempt = 2
    rows = [
        {"attempt": 1, "native_id": "7", "state": "OUT_OF_MEMORY", "reason": "", "elements": '{"0": "OUT_OF_MEMORY"}',
         "resources": '{"memory": "200MB"}'},
        {"attempt": 2, "native_id": "8", "state": "RUNNING", "reason": "", "elements": "{}",
         "resources": '{"memory": "400MB"}'},
    ]  # fmt: skip
    assert story(rows, job, 0, State.OUT_OF_MEMORY) == [
        "attempt 1: OUT_OF_MEMORY with memory=200MB (slurm 7)",
        "attempt 2: OUT_OF_MEMORY with memory=400MB (slurm 8)",
    ]


SCONTROL_PARTITIONS = (
    "PartitionName=debug AllowGroups=ALL Default=YES MaxNodes=UNLIMITED MaxTime=UNLIMITED TotalNodes=1 "
    "MaxMemPerNode=UNLIMITED TRES=cpu=2,mem=18078M,node=1,billing=2\n"
    "PartitionName=short AllowGroups=ALL Default=NO MaxTime=04:00:00 TotalNodes=12 MaxMemPerNode=64000 "
    "TRES=cpu=96,mem=750G,node=12\n"
    "PartitionName=big Default=NO MaxTime=2-00:00:00 TotalNodes=4 MaxMemPerNode=UNLIMITED TRES=cpu=8,mem=1T,node=4\n"
)


def test_slurm_partition_limits_are_parsed_from_scontrol() -> None:
    assert parse_partition_limits(SCONTROL_PARTITIONS, None) == {"memory": 18078 * 2**20}
    assert parse_partition_limits(SCONTROL_PARTITIONS, "short") == {"time": 4 * 3600, "memory": 64000 * 2**20}
    assert parse_partition_limits(SCONTROL_PARTITIONS, "big") == {"time": 2 * 86400}  # several nodes: unknown
    assert parse_partition_limits(SCONTROL_PARTITIONS, "missing") == {}


def _flaky(path: str) -> str:
    with open(path, "a") as f:
        f.write("ran\n")
    raise ConnectionError(f"down (run {open(path).read().count('ran')})")


def test_retry_on_exhausted_raises_the_last_exception_with_every_attempt_noted(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    future = cluster(retries=2, retry_on=(ConnectionError,))(_flaky).submit(str(runs))
    with pytest.raises(ConnectionError, match=r"down \(run 3\)") as info:
        future.result(timeout=60)
    assert runs.read_text().count("ran") == 3
    stories = [n for n in info.value.__notes__ if n.startswith("attempt ")]
    assert [s.split(" (")[0] for s in stories] == [
        "attempt 1: FAILED",
        "attempt 2: FAILED",
        "attempt 3: FAILED",
    ]
    assert "raised ConnectionError (retry_on): down (run 1)" in stories[0]


def test_a_users_exception_runs_once_even_with_retries(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    future = cluster(retries=2)(_flaky).submit(str(runs))
    with pytest.raises(ConnectionError):
        future.result(timeout=60)
    assert runs.read_text().count("ran") == 1
    assert [a.attempt for a in future.attempts] == [1]


class RefuseAttempt2:
    @hookimpl(tryfirst=True)
    def clustrix_stage(self, job: Job, target: Any) -> None:
        if job.attempt == 2:
            raise SubmissionRejected("the queue is closed", job_id=job.job_id)


def test_a_failed_resubmission_fails_the_call_with_its_last_failure_and_says_why(tmp_path: Path) -> None:
    manager().register(RefuseAttempt2(), "refuse-attempt-2")
    try:
        future = cluster(retries=2, retry_on=(ConnectionError,))(_flaky).submit(str(tmp_path / "runs"))
        with pytest.raises(ConnectionError, match=r"run 1") as info:
            future.result(timeout=60)
    finally:
        manager().unregister("refuse-attempt-2")
    assert isinstance(info.value.__cause__, SubmissionRejected)
    assert any("attempt 2 could not be submitted: SubmissionRejected" in n for n in info.value.__notes__)
    assert store_here().row(future.job_id)["state"] == "REJECTED"


def test_only_one_process_begins_a_jobs_next_attempt(tmp_path: Path) -> None:
    store = Store(tmp_path / "jobs.sqlite")
    job = _job(memory="200MB", retries=2)
    store.record(job, "target")
    store.set_native_id(job.job_id, "7")
    job.attempt, job.settings = 2, {**job.settings, "memory": "400MB"}
    assert store.begin_attempt(job, (State.OUT_OF_MEMORY, ""), {0: State.OUT_OF_MEMORY})
    assert not store.begin_attempt(job, (State.OUT_OF_MEMORY, ""), {0: State.OUT_OF_MEMORY}), "a second watcher"
    recorded, _, _ = store.job(job.job_id)
    assert (recorded.attempt, recorded.native_id, recorded.settings["memory"]) == (2, None, "400MB")
    rows = store.attempts(job.job_id)
    assert [(r["attempt"], r["state"], r["native_id"]) for r in rows] == [
        (1, "OUT_OF_MEMORY", "7"),
        (2, "SUBMITTING", None),
    ]


def _warned_once(marker: str) -> str:
    """Gets the scheduler's walltime warning (SIGUSR1) on its first run and returns early."""
    import os
    import signal

    from clustrix import checkpoint

    if not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGUSR1)
        assert checkpoint.stopping()
        return "stopped early"
    return "finished"


def test_a_call_requeued_on_the_walltime_warning_runs_again_as_a_timeout(tmp_path: Path) -> None:
    future = cluster(retries=1)(_warned_once).submit(str(tmp_path / "warned"))
    assert future.result(timeout=60) == "finished"
    assert [(a.attempt, a.state) for a in future.attempts] == [(1, "TIMEOUT"), (2, "COMPLETED")]


def test_a_requeued_call_without_retries_fails_as_a_timeout(tmp_path: Path) -> None:
    future = cluster()(_warned_once).submit(str(tmp_path / "warned"))
    with pytest.raises(JobTimeout, match="returned early on the scheduler's warning"):
        future.result(timeout=60)


def test_an_attempt_whose_call_raised_is_recorded_with_its_exception_not_a_lost_worker(tmp_path: Path) -> None:
    # polled only after the worker process has exited: its exit must not stand for a call that wrote its result
    runs = tmp_path / "runs"
    options = {"retries": 1, "retry_on": (ConnectionError,), "poll_interval": 2.5, "max_poll_interval": 2.5}
    future = cluster(**options)(_flaky).submit(str(runs))
    with pytest.raises(ConnectionError, match=r"down \(run 2\)") as info:
        future.result(timeout=60)
    stories = [n for n in info.value.__notes__ if n.startswith("attempt ")]
    assert len(stories) == 2
    assert stories[0].endswith(": raised ConnectionError (retry_on): down (run 1)"), stories[0]
    assert "exited before writing" not in stories[1], stories[1]
    assert future.attempts[0].reason == "raised ConnectionError (retry_on): down (run 1)"
