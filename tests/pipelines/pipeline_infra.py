"""The backends pipelines are tested on, and a gate that holds a parent job until the test
has submitted everything that depends on it (imported by the tests and their conftest)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from infrastructure import LOOPBACK_SSH, PBS_BIN, require

TORQUE = {name: str(PBS_BIN / name) for name in ("qsub", "qstat", "qdel")}
BACKENDS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "slurm": (("slurm",), {"cluster_type": "slurm", "memory": "256MB"}),
    "sge": (("sge",), {"cluster_type": "sge"}),
    "pbs": (("torque",), {"cluster_type": "pbs", "pbs_flavor": "torque", "memory": "256MB", **TORQUE}),
    "slurm-ssh": (("slurm", "ssh"), {"cluster_type": "slurm", "memory": "256MB", **LOOPBACK_SSH}),
    "local": ((), {"cluster_type": "local"}),
    "ssh": (("ssh",), {"cluster_type": "ssh", **LOOPBACK_SSH}),
}


def backend_options(name: str) -> dict[str, Any]:
    needs, options = BACKENDS[name]
    for component in needs:
        require(component)
    return {**options, "tasks_per_job": 1}


class Gate:
    """A file a parent job waits for: the test opens it once the children are submitted,
    so the parents are surely still running when the children are submitted."""

    def __init__(self, directory: Path) -> None:
        self.path = str(directory / "open")

    def open(self) -> None:
        Path(self.path).touch()


def recovered_after_the_submitter_died(submit_and_die: str, options: dict[str, Any], gate: Gate, timeout: float) -> str:
    """Run ``submit_and_die`` (a script that submits a pipeline, prints its last job's id and
    dies: ``sys.argv`` = options as JSON, the gate's path, this directory) in a process of its
    own, open the gate, and return what `clustrix result` prints for that job in another one."""
    here = os.path.dirname(__file__)
    done = subprocess.run(
        [sys.executable, "-c", submit_and_die, json.dumps(options), gate.path, here],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 9, done.stderr
    gate.open()
    answer = subprocess.run(
        [sys.executable, "-m", "clustrix", "result", done.stdout.split()[-1], "--timeout", str(timeout)],
        capture_output=True,
        text=True,
        timeout=timeout + 60,
    )
    assert answer.returncode == 0, answer.stderr
    return answer.stdout.strip()
