"""The executor and joblib pages' examples run on the local backend and a real cluster."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import check_golden

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.parametrize("target", ["local", "slurm"], indirect=True)
def test_executor_example_prints_what_the_docs_show(target: tuple[str, Path], run_example: Run) -> None:
    _, workdir = target
    check_golden("executor_pool.txt", run_example("executor_pool.py", workdir).stdout)


@pytest.mark.parametrize("target", ["local", "sge"], indirect=True)
def test_joblib_example_prints_what_the_docs_show(target: tuple[str, Path], run_example: Run) -> None:
    pytest.importorskip("sklearn")
    _, workdir = target
    check_golden("joblib_grid.txt", run_example("joblib_grid.py", workdir).stdout)
