"""Fixtures for the Kubernetes backend: the API emulator and the @cluster keywords for it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clustrix.job import Job, package
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


@pytest.fixture
def make_job(tmp_path: Path) -> Callable[..., Job]:
    """Package a job of ``n_calls`` calls with these settings, as submit would (nothing is sent)."""

    def make(n_calls: int = 1, function_name: str = "simulate", **settings: Any) -> Job:
        def simulate(x: int) -> int:
            return x

        simulate.__qualname__ = function_name
        job = package(
            simulate,
            [((i,), {}) for i in range(n_calls)],
            backend="k8s",
            settings={"cores": 1, **settings},
            home=tmp_path,
            remote_work_dir=str(tmp_path),
            tasks_per_element=1,
        )
        return job

    return make


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_k8s: needs a real Kubernetes cluster (KUBECONFIG); skipped without one")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say why the real-cluster tests skipped, even without -rs (they skip in CI too)."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "real_k8s" in getattr(r, "keywords", {})]
    if skipped:
        reason = str(skipped[0].longrepr[2]) if isinstance(skipped[0].longrepr, tuple) else "see -rs"
        terminalreporter.write_line(f"{len(skipped)} real_k8s tests skipped: {reason.removeprefix('Skipped: ')}")
