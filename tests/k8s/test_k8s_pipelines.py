"""Pipelines on Kubernetes (no scheduler dependencies): the child is held until its parents
ended, and their results reach its pod in the payload Secret, signed with its key."""

from __future__ import annotations

from typing import Any

import pytest

from clustrix import DependencyFailed, cluster
from clustrix_k8s.manifest import payload


def double(x: int) -> int:
    return 2 * x


def total(values: list[int]) -> int:
    return sum(values)


def test_map_results_reach_the_dependent_pod(k8s_options: dict[str, Any]) -> None:
    parents = cluster(**k8s_options, tasks_per_job=1)(double).map(range(3))
    child = cluster(**k8s_options)(total).submit(parents)
    assert child.result(timeout=120) == 0 + 2 + 4
    shipped = {f"dep.{p.job_id}.pkl" for p in parents}
    assert {p.name for p in child.job.local_dir.glob("dep.*.pkl")} == shipped
    assert shipped <= set(payload(child.job, child.target.home / "blobs"))  # in the pod's Secret


def test_failed_parent_fails_the_dependent_pod_call(k8s_options: dict[str, Any]) -> None:
    parent = cluster(**k8s_options)(total).submit([1, "a"])
    with pytest.raises(DependencyFailed) as info:
        cluster(**k8s_options)(double).submit(parent).result(timeout=120)
    assert info.value.parent_id == parent.job_id and "TypeError" in str(info.value)
