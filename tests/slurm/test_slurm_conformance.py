"""The SLURM backend passes the conformance kit on a real Slurm, locally and through SSH."""

from __future__ import annotations

from typing import Any

import pytest

from clustrix.testing import BackendConformance


class TestSlurmLocal(BackendConformance):
    timeout = 120

    @pytest.fixture
    def backend_options(self, local_slurm: dict[str, Any]) -> dict[str, Any]:
        return local_slurm


class TestSlurmOverSSH(BackendConformance):
    timeout = 180

    @pytest.fixture
    def backend_options(self, ssh_slurm: dict[str, Any]) -> dict[str, Any]:
        return ssh_slurm
