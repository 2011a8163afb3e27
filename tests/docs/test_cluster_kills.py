"""The "When the cluster kills your job" page: its checkpoint example, run where it can be
stopped by a time limit and retried with its job directory kept (local, Grid Engine)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import check_golden

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.parametrize("target", ["local", "sge"], indirect=True)
def test_checkpointed_call_outlives_its_time_limit_through_retries(target: tuple[str, Path], run_example: Run) -> None:
    _, workdir = target
    check_golden("checkpointed.txt", run_example("checkpointed.py", workdir).stdout)
