"""A retried job followed from another process: attached on its first attempt, and attached
after its submitter died between recording its second attempt and submitting it."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from click.testing import CliRunner

import clustrix
from clustrix import retry
from clustrix.cli import main
from clustrix.job_access import store_here

TIMEOUT = 180

SUBMIT = """
import json, os, sys
from clustrix import cluster
from clustrix.hookspecs import hookimpl
from clustrix.plugins import manager


class DieBeforeAttempt2:
    @hookimpl(tryfirst=True)
    def clustrix_stage(self, job, target):
        if job.attempt == 2:
            os._exit(3)  # recorded attempt 2 (SUBMITTING), never submitted it


@cluster(**json.loads(sys.argv[1]))
def needs_12s():
    import time
    time.sleep(12)  # 2.4 walltimes: Grid Engine kills attempt 1 at h_rt (1-5 s late), attempt 2 has 15 s
    return "done"


future = needs_12s.submit()
print(future.job_id, flush=True)
if sys.argv[2] == "die":
    manager().register(DieBeforeAttempt2(), "die-before-attempt-2")
    future.result()
"""


def submit_elsewhere(options: dict[str, Any], then: str) -> tuple[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", SUBMIT, json.dumps(options), then], capture_output=True, text=True, timeout=TIMEOUT
    )
    return done.stdout.split()[0], done.returncode


@pytest.fixture
def retried_sge(local_sge: dict[str, Any]) -> dict[str, Any]:
    return {**local_sge, "time": "5s", "retries": 2, "escalate": {"time": 3.0}}


def table(*args: str) -> str:
    return CliRunner().invoke(main, list(args), catch_exceptions=False).output


def test_a_job_attached_on_its_first_attempt_is_retried_by_the_attaching_process(
    retried_sge: dict[str, Any],
) -> None:
    job_id, code = submit_elsewhere(retried_sge, "exit")
    assert code == 0
    future = clustrix.attach(job_id)
    assert future.result(timeout=TIMEOUT) == "done"
    assert [(a.attempt, a.state) for a in future.attempts] == [(1, "TIMEOUT"), (2, "COMPLETED")]
    assert "COMPLETED (attempt 2/3)" in table("jobs")
    assert "COMPLETED (attempt 2/3)" in table("status", job_id, "--cached")


def test_a_job_whose_submitter_died_between_attempts_is_resumed_by_attach(
    retried_sge: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, code = submit_elsewhere(retried_sge, "die")
    assert code == 3, "the submitter died submitting attempt 2"
    row, attempts = store_here().row(job_id), store_here().attempts(job_id)
    assert (row["attempt"], row["native_id"], row["state"]) == (2, None, "RUNNING")
    assert [(a["state"], a["native_id"]) for a in attempts][1] == ("SUBMITTING", None)
    assert "RUNNING (attempt 2/3)" in table("jobs")
    monkeypatch.setattr(retry, "RESUME_AFTER", 0.0)  # its submitter is known dead: resume at once
    future = clustrix.attach(job_id)
    assert future.result(timeout=TIMEOUT) == "done"
    assert [(a.attempt, a.state) for a in future.attempts] == [(1, "TIMEOUT"), (2, "COMPLETED")]
    assert future.attempts[1].resources["time"] == "00:00:15"
