"""Pipelines on real Slurm, Grid Engine and the Torque-style wrappers: a child whose
arguments are futures of unfinished jobs is submitted at once with the scheduler's own
dependency, its runner reads the parents' results on the cluster, and a failed parent
leaves nothing pending."""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

import pytest
from pipeline_infra import Gate, backend_options, recovered_after_the_submitter_died

from clustrix import DependencyFailed, cluster
from clustrix.future import ClusterFuture
from clustrix.plugins import manager

TIMEOUT = 300
DEPENDENCY = {"slurm": "--dependency=afterok:", "sge": "-hold_jid ", "pbs": "-W depend=afterok:"}
ELEMENTWISE = {"slurm": "--dependency=aftercorr:", "sge": "-hold_jid_ad ", "pbs": "-W depend=afterok:"}


def wait_at_gate(path: str, limit: float = 300) -> None:
    """In a job: return once the test opened the gate (at most ``limit`` seconds)."""
    deadline = time.time() + limit
    while not os.path.exists(path) and time.time() < deadline:
        time.sleep(0.2)


def gated_double(x: int, gate: str) -> int:
    wait_at_gate(gate)
    return 2 * x


def plus_one(x: int) -> int:
    return x + 1


def total(values: list[int]) -> int:
    return sum(values)


def exits_hard(x: int, gate: str) -> int:
    wait_at_gate(gate)
    if x == 1:
        os._exit(3)  # the job dies without a result: the scheduler sees it fail
    return x


def raises(x: int) -> int:
    raise ValueError(f"bad input {x}")


def script(future: ClusterFuture, chunk: int = 0) -> str:
    return (future.job.local_dir / f"job-{chunk}.sh").read_text()


def still_live(future: ClusterFuture) -> set[str]:
    """The tasks of the future's job its scheduler still holds or runs (one real scheduler
    command; Slurm also lists jobs that ended lately, in their final state)."""
    scheduler = manager().pm.get_plugin(future.job.backend)
    ids = [nid for nid in (future.native_id or "").split(",") if nid]
    return {f"{key} {state}" for key, state in scheduler.live(ids, future.target).items() if not state.terminal}


def assert_nothing_pending(future: ClusterFuture) -> None:
    deadline = time.time() + 60
    while still_live(future) and time.time() < deadline:
        time.sleep(1)
    assert not still_live(future), f"job {future.native_id} still pending or running"


def test_three_stage_pipeline_of_maps_is_submitted_at_once(scheduler: dict[str, Any], gate: Gate) -> None:
    first = cluster(**scheduler)(gated_double).map(range(6), [gate.path] * 6)
    second = cluster(**scheduler)(plus_one).map(first)
    third = cluster(**scheduler)(total).submit(second)
    assert not any(f.done() for f in first)  # held at the gate: every child went to the scheduler first
    backend = scheduler["cluster_type"]
    assert ELEMENTWISE[backend] + first[0].native_id.split(",")[0] in script(second[0])
    assert DEPENDENCY[backend] + second[0].native_id.split(",")[0] in script(third)
    gate.open()
    assert third.result(timeout=TIMEOUT) == sum(2 * x + 1 for x in range(6))


def test_elementwise_map_dependency_reaches_slurm_as_aftercorr(gate: Gate) -> None:
    options = backend_options("slurm")
    parents = cluster(**options)(gated_double).map(range(3), [gate.path] * 3)
    children = cluster(**options)(plus_one).map(parents)
    shown = subprocess.run(
        ["scontrol", "show", "job", children[0].native_id], capture_output=True, text=True, check=True
    ).stdout
    gate.open()
    assert f"Dependency=aftercorr:{parents[0].native_id}" in shown
    assert [f.result(timeout=TIMEOUT) for f in children] == [1, 3, 5]


def test_parent_finished_at_submit_gets_no_scheduler_dependency(scheduler: dict[str, Any], gate: Gate) -> None:
    gate.open()
    parent = cluster(**scheduler)(gated_double).submit(21, gate.path)
    assert parent.result(timeout=TIMEOUT) == 42
    child = cluster(**scheduler)(plus_one).submit(parent)
    backend = scheduler["cluster_type"]
    assert DEPENDENCY[backend].split(":")[0].strip() not in script(child)
    assert child.result(timeout=TIMEOUT) == 43


def test_parent_function_raising_fails_each_dependent_call_with_dependency_failed(scheduler: dict[str, Any]) -> None:
    parents = cluster(**scheduler)(raises).map([1, 2])
    child = cluster(**scheduler)(total).submit(parents)
    with pytest.raises(DependencyFailed) as info:
        child.result(timeout=TIMEOUT)
    assert info.value.parent_id == parents[0].job_id
    assert "bad input 1" in str(info.value)
    assert_nothing_pending(child)


def test_parent_killed_without_result_leaves_no_dependent_pending(scheduler: dict[str, Any], gate: Gate) -> None:
    parents = cluster(**scheduler)(exits_hard).map(range(3), [gate.path] * 3)
    whole = cluster(**scheduler)(total).submit(parents)
    gate.open()
    with pytest.raises(DependencyFailed) as info:
        whole.result(timeout=TIMEOUT)
    assert info.value.parent_id == parents[1].job_id
    assert_nothing_pending(whole)
    if scheduler["cluster_type"] == "sge":  # deleted by Clustrix before it ran, of which qacct keeps no record
        assert whole.target.store.row(whole.job_id)["state"] == "CANCELLED"


def test_cancelling_a_parent_cancels_its_dependents(scheduler: dict[str, Any], gate: Gate) -> None:
    parent = cluster(**scheduler)(gated_double).submit(1, gate.path)
    child = cluster(**scheduler)(plus_one).submit(parent)
    grandchild = cluster(**scheduler)(plus_one).submit(child)
    assert parent.cancel()
    for dependent in (child, grandchild):
        with pytest.raises(DependencyFailed):
            dependent.result(timeout=TIMEOUT)
        assert_nothing_pending(dependent)


SUBMIT_AND_DIE = """
import json, os, sys
sys.path[:0] = [sys.argv[3], os.path.dirname(sys.argv[3])]
from clustrix import cluster
from test_scheduler_pipelines import gated_double, plus_one, total
options = json.loads(sys.argv[1])
first = cluster(**options)(gated_double).map(range(4), [sys.argv[2]] * 4)
report = cluster(**options)(total).submit(cluster(**options)(plus_one).map(first))
print(report.job_id, flush=True)
os._exit(9)  # killed right after the last submit: nothing settled, nothing cleaned up
"""


@pytest.mark.parametrize("name", ["slurm", "slurm-ssh"])
def test_result_recovered_by_clustrix_result_after_the_submitter_died(name: str, gate: Gate) -> None:
    answer = recovered_after_the_submitter_died(SUBMIT_AND_DIE, backend_options(name), gate, TIMEOUT)
    assert answer == str(sum(2 * x + 1 for x in range(4)))


def test_parent_job_dir_is_kept_until_its_dependent_ended_then_removed(gate: Gate) -> None:
    options = backend_options("slurm-ssh")
    parent = cluster(**options)(plus_one).submit(1)
    held = cluster(**options)(gated_double).submit(5, gate.path)
    child = cluster(**options)(total).submit([parent, held])
    assert parent.result(timeout=TIMEOUT) == 2
    watcher, transport = parent.target.watcher, parent.target.transport
    deadline = time.time() + 60
    while parent.job.job_id in watcher._watched and time.time() < deadline:  # settled and past its clean-up step
        time.sleep(0.2)
    assert not transport.missing([parent.job.remote_result(0)]), (
        "the parent's result was removed while a dependent waits"
    )
    gate.open()
    assert child.result(timeout=TIMEOUT) == 2 + 10  # read from the parent's job dir on the host
    deadline = time.time() + 60
    while not transport.missing([parent.job.remote_dir]) and time.time() < deadline:
        time.sleep(0.2)
    assert transport.missing([parent.job.remote_dir]), "the parent's job dir outlived its last dependent"


def test_parent_on_another_target_passes_its_value_through_the_client(gate: Gate) -> None:
    gate.open()
    parent = cluster(cluster_type="local")(plus_one).submit(41)
    child = cluster(**backend_options("slurm-ssh"))(plus_one).submit(parent)
    assert child.result(timeout=TIMEOUT) == 43
    assert (child.job.local_dir / f"dep.{parent.job_id}.pkl").exists()


def test_clustrix_jobs_shows_what_each_job_waits_for(gate: Gate) -> None:
    from click.testing import CliRunner

    from clustrix.cli import main

    options = backend_options("slurm")
    parent = cluster(**options)(gated_double).submit(1, gate.path)
    child = cluster(**options)(plus_one).submit(parent)
    listing = CliRunner().invoke(main, ["jobs", "--json"], catch_exceptions=False)
    waits = {job["job_id"]: job["waits_for"] for job in json.loads(listing.output)}
    table = CliRunner().invoke(main, ["jobs"], catch_exceptions=False).output
    gate.open()
    assert waits == {child.job_id: [parent.job_id], parent.job_id: []}
    assert "WAITS FOR" in table
    assert [line.split()[-1] for line in table.splitlines() if line.startswith(child.job_id)] == [parent.job_id]
    assert child.result(timeout=TIMEOUT) == 3
    done = json.loads(CliRunner().invoke(main, ["jobs", "--json"], catch_exceptions=False).output)
    assert all(job["waits_for"] == [] for job in done)
