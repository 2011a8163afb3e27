"""The backend conformance kit, run against the real sshd on loopback."""

from __future__ import annotations

from typing import Any

import pytest

from clustrix.testing import BackendConformance


class TestSSHBackend(BackendConformance):
    timeout = 120

    @pytest.fixture
    def backend_options(self, ssh_options: dict[str, Any]) -> dict[str, Any]:
        return ssh_options


class TestSSHBackendOverOpenSSH(BackendConformance):
    """The same kit with ssh_client = "openssh" (the system ssh and its shared master connection)."""

    timeout = 120

    @pytest.fixture
    def backend_options(self, ssh_options: dict[str, Any]) -> dict[str, Any]:
        return {**ssh_options, "ssh_client": "openssh"}
