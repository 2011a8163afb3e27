"""A parent with retries: its next attempt is a new scheduler job, so its children wait in
the watcher (HELD), not on the first attempt's scheduler id, and get the final value."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline_infra import backend_options
from test_scheduler_pipelines import TIMEOUT, plus_one

from clustrix import cluster
from clustrix.job import State


def flaky_once(marker: str) -> int:
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise ConnectionError("the database is down")
    return 41


def test_child_of_a_parent_with_retries_gets_the_value_of_its_last_attempt(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    options = backend_options("slurm")
    parent = cluster(**options, retries=1, retry_on=(ConnectionError,))(flaky_once).submit(str(tmp_path / "ran"))
    child = cluster(**options)(plus_one).submit(parent)
    assert child.target.store.job(child.job.job_id)[2] in (
        State.HELD.value,
        State.SUBMITTING.value,
        State.PENDING.value,
    )
    assert child.result(timeout=TIMEOUT) == 42
    assert [a.state for a in parent.attempts] == ["FAILED", "COMPLETED"]
