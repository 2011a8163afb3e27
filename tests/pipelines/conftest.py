"""Fixtures of the pipeline tests: each batch scheduler's options, and the gate."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pipeline_infra import Gate, backend_options


@pytest.fixture(params=["slurm", "sge", "pbs"])
def scheduler(request: pytest.FixtureRequest) -> dict[str, Any]:
    """@cluster keywords of each batch scheduler here (one element per call)."""
    return backend_options(request.param)


@pytest.fixture
def gate() -> Iterator[Gate]:
    # in the system temp dir, traversable by the SSH test user whose jobs look for it too
    directory = Path(tempfile.mkdtemp(prefix="clustrix-gate-"))
    directory.chmod(0o755)
    yield Gate(directory)
    shutil.rmtree(directory, ignore_errors=True)
