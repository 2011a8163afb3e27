"""Backends without scheduler dependencies (local processes, an SSH host): the child is
recorded HELD at once and the watcher of any process submits it when its parents ended."""

from __future__ import annotations

from typing import Any

import pytest
from pipeline_infra import Gate, backend_options, recovered_after_the_submitter_died
from test_scheduler_pipelines import TIMEOUT, gated_double, plus_one, total

from clustrix import DependencyFailed, cluster
from clustrix.job import State


@pytest.fixture(params=["local", "ssh"])
def plain_backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    return backend_options(request.param)


def test_child_is_held_then_submitted_by_the_watcher_when_its_parents_ended(
    plain_backend: dict[str, Any], gate: Gate
) -> None:
    parents = cluster(**plain_backend)(gated_double).map(range(3), [gate.path] * 3)
    child = cluster(**plain_backend)(total).submit(parents)  # returns at once
    _, _, state = child.target.store.job(child.job.job_id)
    assert not any(p.done() for p in parents) and state == State.HELD.value and child.native_id is None
    gate.open()
    assert child.result(timeout=TIMEOUT) == 0 + 2 + 4


def test_held_child_of_a_failed_parent_fails_with_dependency_failed(plain_backend: dict[str, Any]) -> None:
    bad_parent = cluster(**plain_backend)(total).submit([1, "a"])
    child = cluster(**plain_backend)(plus_one).submit(bad_parent)
    with pytest.raises(DependencyFailed) as info:
        child.result(timeout=TIMEOUT)
    assert info.value.parent_id == bad_parent.job_id
    assert "TypeError" in str(info.value)


def test_cancelling_a_held_childs_parent_cancels_the_child(gate: Gate) -> None:
    options = backend_options("local")
    parent = cluster(**options)(gated_double).submit(1, gate.path)
    child = cluster(**options)(plus_one).submit(parent)
    assert parent.cancel()
    with pytest.raises(DependencyFailed):
        child.result(timeout=TIMEOUT)
    gate.open()


SUBMIT_AND_DIE = """
import json, os, sys
sys.path[:0] = [sys.argv[3], os.path.dirname(sys.argv[3])]
from clustrix import cluster
from test_scheduler_pipelines import gated_double, plus_one, total
options = json.loads(sys.argv[1])
first = cluster(**options)(gated_double).map(range(3), [sys.argv[2]] * 3)
report = cluster(**options)(total).submit(first)
print(report.job_id, flush=True)
os._exit(9)  # killed right after the last submit: the child is still HELD
"""


def test_held_pipeline_resumes_in_a_new_process_after_the_submitter_died(gate: Gate) -> None:
    assert recovered_after_the_submitter_died(SUBMIT_AND_DIE, backend_options("local"), gate, TIMEOUT) == "6"
