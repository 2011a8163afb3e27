"""checkpoint on the ssh backend: the host has no Clustrix (the runner's staged copy is
``clustrix.checkpoint``), SIGUSR1 to the element's process makes ``stopping()`` true, the
call is requeued and its next attempt on the host resumes from the checkpoint."""

from __future__ import annotations

import json
import shlex
import time
import uuid
from pathlib import Path
from typing import Any

from attempts import steps

from clustrix import cluster
from clustrix.outcome import read_outcomes

DEADLINE = 120
TOTAL = 30


def wait_remote(transport: Any, path: str, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while transport.run(["test", "-e", path]).returncode != 0:
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def fetched(transport: Any, remote: str, local: Path) -> list[tuple[Any, ...]]:
    assert transport.get(remote, local)
    return read_outcomes(local)


def test_warned_call_is_requeued_and_resumes_from_its_checkpoint_on_a_host_without_clustrix(
    ssh_options: dict[str, Any],
) -> None:
    log = f"/tmp/clustrix-steps-{uuid.uuid4().hex}.log"  # on the host: every step run, across attempts
    future = cluster(**ssh_options)(steps).submit(TOTAL, 0.2, log)
    transport, jobdir = future.target.transport, future.job.remote_dir
    assert transport.run(["python3", "-c", "import clustrix"]).returncode != 0  # not installed there
    wait_remote(transport, f"{jobdir}/checkpoints/0.pkl", "a checkpoint")
    started = json.loads(transport.read_text(f"{jobdir}/status/0.started") or "{}")
    assert transport.run(["kill", "-USR1", str(started["pid"])]).returncode == 0
    wait_remote(transport, f"{jobdir}/results/0.pkl", "the warned call's result")
    local = future.job.result_path(0)
    ((tag, reason),) = fetched(transport, f"{jobdir}/results/0.pkl", local)
    assert tag == "requeue" and reason.startswith("walltime")

    # the next attempt, on the host, with the job's interpreter: resumes, finishes
    python = shlex.split(
        next(line for line in transport.read_text(f"{jobdir}/job.sh").splitlines() if "xargs" in line)
    )[-2]
    again = 'cd "$1" && mv results/0.pkl results/0.pkl.attempt1 && exec "$2" runner.py "$1" 0'
    assert transport.run(["sh", "-c", again, "sh", jobdir, python]).returncode == 0
    local.unlink()
    assert fetched(transport, f"{jobdir}/results/0.pkl", local) == [("ok", TOTAL)]
    err = transport.read_text(f"{jobdir}/logs/0.err") or ""
    assert "SIGUSR1: checkpoint.stopping() is now true" in err
    run = (transport.read_text(log) or "").split()
    transport.run(["rm", "-f", log])
    assert len(run) - TOTAL <= 1, run  # resumed from the checkpoint: no step run twice beyond the last save
