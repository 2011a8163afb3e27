"""Pipelines on the real schedulers: the backend options of each, and a gate that holds a
parent job until the test has submitted everything that depends on it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infrastructure import LOOPBACK_SSH, PBS_BIN, require

TORQUE = {name: str(PBS_BIN / name) for name in ("qsub", "qstat", "qdel")}
BACKENDS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "slurm": (("slurm",), {"cluster_type": "slurm", "memory": "256MB"}),
    "sge": (("sge",), {"cluster_type": "sge"}),
    "pbs": (("torque",), {"cluster_type": "pbs", "pbs_flavor": "torque", "memory": "256MB", **TORQUE}),
    "slurm-ssh": (("slurm", "ssh"), {"cluster_type": "slurm", "memory": "256MB", **LOOPBACK_SSH}),
}


def backend_options(name: str) -> dict[str, Any]:
    needs, options = BACKENDS[name]
    for component in needs:
        require(component)
    return {**options, "tasks_per_job": 1}


@pytest.fixture(params=["slurm", "sge", "pbs"])
def scheduler(request: pytest.FixtureRequest) -> dict[str, Any]:
    """@cluster keywords of each batch scheduler here (one element per call)."""
    return backend_options(request.param)


class Gate:
    """A file a parent job waits for: the test opens it once the children are submitted,
    so the parents are surely still running when the children are submitted."""

    def __init__(self, directory: Path) -> None:
        self.path = str(directory / "open")

    def open(self) -> None:
        Path(self.path).touch()


@pytest.fixture
def gate() -> Iterator[Gate]:
    # in the system temp dir, traversable by the SSH test user whose jobs look for it too
    directory = Path(tempfile.mkdtemp(prefix="clustrix-gate-"))
    directory.chmod(0o755)
    yield Gate(directory)
    shutil.rmtree(directory, ignore_errors=True)
