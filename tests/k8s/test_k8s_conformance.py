"""The conformance kit against the API emulator, through the real `kubernetes` client."""

from __future__ import annotations

from typing import Any

import pytest

from clustrix.testing import BackendConformance


class TestK8sConformance(BackendConformance):
    timeout = 60
    remote_files = False  # pods keep their files; results come back through the API

    @pytest.fixture
    def backend_options(self, k8s_options: dict[str, Any]) -> dict[str, Any]:
        return k8s_options
