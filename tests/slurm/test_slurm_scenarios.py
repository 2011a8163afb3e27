"""Real Slurm scenarios: arrays, time limits, cancels, rejections, a controller restart, batched polling."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from clustrix import cluster
from clustrix.errors import JobCancelled, JobFailed, JobTimeout, SubmissionRejected
from clustrix.job import State
from clustrix.lifecycle import resolve
from clustrix.target import Target, target_for
from clustrix.testing import wait_for_state
from clustrix.transport import Completed, LocalTransport
from clustrix_slurm import plugin
from infrastructure import require

RESTART = Path(__file__).parent.parent / "infra" / "slurmctld_restart.sh"
SCHEDULER_COMMANDS = {"sbatch", "squeue", "sacct", "scontrol", "scancel"}


class CountingTransport(LocalTransport):
    """LocalTransport that records every command it runs."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []

    def run(self, argv: Sequence[str], **kwargs: Any) -> Completed:
        self.commands.append(list(argv))
        return super().run(argv, **kwargs)

    def scheduler(self, name: str) -> list[list[str]]:
        return [c for c in self.commands if os.path.basename(c[0]) == name]


def counted_target(options: dict[str, Any]) -> tuple[Target, CountingTransport]:
    """The target these options submit to, with a command-counting transport."""
    target = target_for(resolve(options).values)
    counter = CountingTransport()
    target.__dict__["transport"] = counter
    return target, counter


@pytest.fixture(scope="module", autouse=True)
def overtime(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A 1-minute job that sleeps longer, started before this module's other tests (Slurm ends it 60-90 s later)."""
    require("slurm")

    @cluster(cluster_type="slurm", memory="256MB", time="1m", home=str(tmp_path_factory.mktemp("overtime")))
    def oversleep() -> str:
        import time

        time.sleep(600)
        return "never"

    return oversleep.submit()


@pytest.mark.accounting_independent  # every element's result file tells its end
def test_map_of_200_calls_is_one_array(local_slurm: dict[str, Any]) -> None:
    @cluster(**local_slurm)
    def cube(x: int) -> int:
        return x**3

    futures = cube.map(range(200), tasks_per_job=40)  # 5 elements: this node starts ~1 array task a second
    assert [f.result(timeout=300) for f in futures] == [x**3 for x in range(200)]
    job = futures[0].job
    assert job.native_id and "," not in job.native_id, "one sbatch, one array"
    assert job.n_elements == 5


def test_map_larger_than_max_array_size_is_chunked(
    local_slurm: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin, "_array_limits", {})
    monkeypatch.setattr(plugin, "max_array_size", lambda target: 3)

    @cluster(**local_slurm)
    def double(x: int) -> int:
        return 2 * x

    futures = double.map(range(7), tasks_per_job=1)
    assert len(futures[0].job.native_id.split(",")) == 3  # 3 + 3 + 1 elements
    assert [f.result(timeout=120) for f in futures] == [2 * x for x in range(7)]


def test_remote_keyerror_reraised_as_keyerror(local_slurm: dict[str, Any]) -> None:
    @cluster(**local_slurm)
    def lookup(key: str) -> int:
        return {"a": 1, "b": 2}[key]

    futures = lookup.map(["a", "zzz", "b"], tasks_per_job=3)
    assert futures[0].result(timeout=120) == 1
    with pytest.raises(KeyError, match="zzz"):
        futures[1].result(timeout=120)
    assert futures[2].result(timeout=120) == 2


def test_scancel_from_outside_raises_job_cancelled(local_slurm: dict[str, Any]) -> None:
    @cluster(**local_slurm)
    def nap() -> None:
        import time

        time.sleep(300)

    future = nap.submit()
    wait_for_state(future, lambda s: s == State.RUNNING, 120)
    subprocess.run(["scancel", future.native_id], check=True)
    with pytest.raises(JobCancelled) as info:
        future.result(timeout=120)
    assert info.value.state == "CANCELLED"


def test_impossible_request_is_rejected_at_submit_with_slurms_message(local_slurm: dict[str, Any]) -> None:
    @cluster(**{**local_slurm, "cores": 999})
    def greedy() -> None:
        return None

    with pytest.raises(SubmissionRejected, match="More processors requested than permitted"):
        greedy.submit()


def test_job_dying_without_result_fails_with_its_stderr(local_slurm: dict[str, Any]) -> None:
    @cluster(**local_slurm)
    def die() -> None:
        import os
        import sys

        sys.stderr.write("about to exit hard\n")
        sys.stderr.flush()
        os._exit(3)

    future = die.submit()
    with pytest.raises(JobFailed, match="about to exit hard") as info:
        future.result(timeout=120)
    assert info.value.state == "FAILED"


def failed_job(options: dict[str, Any]) -> Any:
    """The settled future of a job that exited 4 (Slurm: FAILED)."""

    @cluster(**options)
    def die() -> None:
        import os

        os._exit(4)

    future = die.submit()
    with pytest.raises(JobFailed):
        future.result(timeout=120)
    return future


def status_once_squeue_forgot(future: Any, monkeypatch: pytest.MonkeyPatch, **commands: str) -> Any:
    """One status call for the future's job once squeue no longer lists it (as after
    MinJobAge), with these scheduler commands in place of the real ones; asked now, not
    answered from the watcher's last query (no polling budget)."""
    monkeypatch.setattr(plugin, "live", lambda ids, target: {})
    monkeypatch.setitem(future.target.settings, "status_queries_per_minute", 1e9)
    for key, command in commands.items():
        monkeypatch.setitem(future.target.settings, key, command)
    return future.target.hooks.clustrix_status(jobs=[future.job], target=future.target)[future.job.job_id]


def lagging_sacct(tmp_path: Path) -> str:
    """A sacct whose record of every job asked for still says RUNNING, as slurmdbd's do
    until slurmctld's agent delivers the job's end (seconds under load, right after the
    database was created); it answers so whether or not this Slurm runs accounting."""
    shim = tmp_path / "sacct"
    shim.write_text(
        "#!/bin/sh\n"
        'while [ $# -gt 0 ]; do [ "$1" = -j ] && ids=$2; shift; done\n'
        "echo \"$ids\" | tr , '\\n' | sed 's/$/|RUNNING/'\n"
    )
    shim.chmod(0o755)
    return str(shim)


def test_forgotten_job_gets_its_final_state_from_accounting(
    local_slurm: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """sacct with accounting on, `scontrol show job` with it off: a job squeue no longer lists."""
    future = failed_job(local_slurm)
    assert status_once_squeue_forgot(future, monkeypatch).of(0) == State.FAILED


def test_lagging_accounting_does_not_hide_the_final_state_the_controller_knows(
    local_slurm: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    future = failed_job(local_slurm)
    status = status_once_squeue_forgot(future, monkeypatch, sacct=lagging_sacct(tmp_path))
    assert status.of(0) == State.FAILED


def test_a_job_that_accounting_calls_running_forever_ends_lost_after_accounting_grace(
    local_slurm: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runaway accounting record (the job is gone from squeue and scontrol, sacct says RUNNING)
    must not keep a future waiting forever."""
    future = failed_job({**local_slurm, "accounting_grace": 0})
    # the controller forgot it too: scontrol answers nothing
    status = status_once_squeue_forgot(future, monkeypatch, sacct=lagging_sacct(tmp_path), scontrol="true")
    assert status.of(0) == State.LOST
    assert "accounting" in status.reason


def test_pending_jobs_survive_a_slurmctld_restart(local_slurm: dict[str, Any]) -> None:
    if os.geteuid() != 0:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("restarting slurmctld needs root")
        pytest.skip("restarting slurmctld needs root")

    @cluster(**{**local_slurm, "extra_directives": ["--begin=now+4"]})
    def square(x: int) -> int:
        return x * x

    futures = [square.submit(x) for x in range(3)] + square.map([3, 4], tasks_per_job=1)
    subprocess.run(["bash", str(RESTART)], check=True, capture_output=True, timeout=120)
    assert [f.result(timeout=180) for f in futures] == [0, 1, 4, 9, 16]


def test_one_status_command_per_poll_cycle_for_200_jobs(local_slurm: dict[str, Any]) -> None:
    options = {**local_slurm, "extra_directives": ["--hold"]}  # held: no 200 launches needed

    @cluster(**options)
    def wait_for_release() -> None:
        return None

    target, counter = counted_target(options)
    futures = [wait_for_release.submit() for _ in range(200)]
    cycles = target.watcher.cycles
    deadline = time.monotonic() + 60
    while target.watcher.cycles < cycles + 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    subprocess.run(["scancel", *(f.native_id for f in futures)], check=True)
    for future in futures:
        with pytest.raises(JobCancelled):
            future.result(timeout=120)
    squeues = counter.scheduler("squeue")
    assert len(counter.scheduler("sbatch")) == 200
    assert 1 <= len(squeues) <= target.watcher.cycles, "at most one squeue per poll cycle (fewer: the budget)"
    assert max(len(c[c.index("-j") + 1].split(",")) for c in squeues) == 200, "one squeue covers every job"
    assert counter.scheduler("sacct") == [] and counter.scheduler("scontrol") == []


def test_job_over_its_time_limit_raises_job_timeout(overtime: Any) -> None:
    with pytest.raises(JobTimeout) as info:
        overtime.result(timeout=240)
    assert "DUE TO TIME LIMIT" in info.value.stderr_tail
