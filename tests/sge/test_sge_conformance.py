"""The SGE backend passes the conformance kit against a real Son of Grid Engine."""

from __future__ import annotations

from typing import Any

import pytest

from clustrix.testing import BackendConformance


class TestSGELocal(BackendConformance):
    @pytest.fixture
    def backend_options(self, local_sge: dict[str, Any]) -> dict[str, Any]:
        return local_sge


class TestSGEOverSSH(BackendConformance):
    @pytest.fixture
    def backend_options(self, ssh_sge: dict[str, Any]) -> dict[str, Any]:
        return ssh_sge
