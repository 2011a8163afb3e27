"""Backends the executor tests run on: the embedded local backend and the real Slurm.

``patience`` is how long a test lets a quick call take to come back on that backend,
where a contract is about a deadline (``map(timeout=...)``): a quick call must be back
well before it, a blocked one never is.
"""

from __future__ import annotations

from typing import Any

import pytest

from infrastructure import require

BACKENDS: dict[str, tuple[dict[str, Any], tuple[str, ...], float]] = {
    "local": ({}, (), 10.0),
    "slurm": ({"cluster_type": "slurm", "memory": "256MB", "time": "00:10:00"}, ("slurm",), 20.0),
}


@pytest.fixture(params=list(BACKENDS))
def settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """clustrix.Executor keywords for one backend (skips, or fails with CI=true, if it is not up)."""
    options, needs, _ = BACKENDS[request.param]
    for component in needs:
        require(component)
    return dict(options)


@pytest.fixture
def patience(settings: dict[str, Any]) -> float:
    return next(p for options, _, p in BACKENDS.values() if options == settings)
