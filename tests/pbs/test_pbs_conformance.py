"""The PBS backend (Torque dialect) passes the conformance kit against real qsub/qstat/qdel."""

from __future__ import annotations

from typing import Any

import pytest

from clustrix.testing import BackendConformance


class TestPBSTorqueLocal(BackendConformance):
    @pytest.fixture
    def backend_options(self, local_pbs: dict[str, Any]) -> dict[str, Any]:
        return local_pbs


class TestPBSTorqueOverSSH(BackendConformance):
    @pytest.fixture
    def backend_options(self, ssh_pbs: dict[str, Any]) -> dict[str, Any]:
        return ssh_pbs
