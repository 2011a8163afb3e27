"""Fixtures for the Kubernetes backend: the API emulator and the @cluster keywords for it."""

from __future__ import annotations

from typing import Any

import pytest

from k8s_emulator import CONTEXT, Emulator
from k8s_emulator.fixtures import k8s_emulator  # noqa: F401  (the fixture itself)


@pytest.fixture
def k8s_options(k8s_emulator: Emulator) -> dict[str, Any]:  # noqa: F811
    """@cluster keywords that send jobs to the emulator."""
    return {
        "cluster_type": "k8s",
        "kubeconfig": str(k8s_emulator.kubeconfig),
        "k8s_context": CONTEXT,
        "k8s_image": "python:3.11-slim",
        "poll_interval": 0.1,
        "max_poll_interval": 0.5,
    }
