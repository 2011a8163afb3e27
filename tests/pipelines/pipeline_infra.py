"""The backends pipelines are tested on, and a gate that holds a parent job until the test
has submitted everything that depends on it (imported by the tests and their conftest)."""

from __future__ import annotations

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
