"""A third-party backend, installed through its own entry points, passes the kit; its
auditing hookwrapper observes every submit, whatever the backend."""

from __future__ import annotations

import json

import pytest

from clustrix import cluster
from clustrix.plugins import manager
from clustrix.testing import BackendConformance


class TestExampleBackend(BackendConformance):
    timeout = 60

    @pytest.fixture
    def backend_options(self):
        return {"cluster_type": "example"}


def test_example_backend_is_discovered_through_its_entry_point():
    info = manager().info
    assert info["example"].backend and info["example"].distribution == "clustrix-example-backend"
    assert not info["example-audit"].backend


@pytest.mark.parametrize("backend", ["local", "example"])
def test_audit_hookwrapper_sees_every_submit(backend, clustrix_home):
    @cluster(cluster_type=backend)
    def double(x):
        return 2 * x

    futures = [double.submit(1), *double.map([2, 3])]
    assert [f.result(timeout=60) for f in futures] == [2, 4, 6]
    records = [json.loads(line) for line in (clustrix_home / "audit.jsonl").read_text().splitlines()]
    assert [(r["job_id"], r["backend"], r["calls"], r["outcome"]) for r in records] == [
        (futures[0].job.job_id, backend, 1, "submitted"),
        (futures[1].job.job_id, backend, 2, "submitted"),
    ]
