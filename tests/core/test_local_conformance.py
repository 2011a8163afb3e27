"""The embedded local backend passes the conformance kit."""

from __future__ import annotations

import pytest

from clustrix.testing import BackendConformance


class TestLocalBackend(BackendConformance):
    timeout = 60

    @pytest.fixture
    def backend_options(self):
        return {"cluster_type": "local"}
