"""How a map is cut into elements, and how many workers claim them (clustrix.lifecycle.packing)."""

from __future__ import annotations

import pytest

from clustrix.errors import ConfigError
from clustrix.lifecycle import packing


def test_tiny_calls_become_two_elements_per_default_worker() -> None:
    assert packing({}, 10_000, claims=True) == (79, 64)  # 127 elements, 64 workers


def test_max_concurrent_sets_the_workers() -> None:
    assert packing({"max_concurrent": 8}, 1000, claims=True) == (63, 8)  # 16 elements


def test_a_map_no_larger_than_its_workers_runs_one_task_per_element() -> None:
    assert packing({}, 64, claims=True) == (1, 0)
    assert packing({}, 3, claims=True) == (1, 0)


def test_hand_packing_retries_and_pipelines_keep_one_task_per_element() -> None:
    assert packing({"tasks_per_job": 5}, 1000, claims=True) == (5, 0)
    assert packing({"retries": 2}, 1000, claims=True) == (16, 0)
    assert packing({}, 1000, claims=True, takes_results=True) == (16, 0)
    assert packing({"array_workers": 0}, 1000, claims=True) == (16, 0)


def test_explicit_workers_with_hand_packing() -> None:
    assert packing({"array_workers": 3, "tasks_per_job": 25}, 300, claims=True) == (25, 3)


def test_backends_without_claims_keep_at_most_64_elements() -> None:
    assert packing({}, 10_000, claims=False) == (157, 0)
    assert packing({"array_workers": 4}, 10_000, claims=False) == (157, 0)


def test_workers_and_retries_together_are_refused_before_submission() -> None:
    with pytest.raises(ConfigError, match="array_workers=4 with retries=2"):
        packing({"array_workers": 4, "retries": 2}, 100, claims=True)
