"""Every tutorial workload runs unchanged on every backend and prints what the docs show."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import check_golden

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.parametrize("target", ["local", "slurm-ssh"], indirect=True)
def test_getting_started_function_runs_locally_and_on_a_cluster(target: tuple[str, Path], run_example: Run) -> None:
    _, workdir = target
    check_golden("first_function.txt", run_example("first_function.py", workdir).stdout)


@pytest.mark.parametrize("example", ["montecarlo", "sweep", "failing"])
def test_workload_prints_what_the_docs_show(example: str, target: tuple[str, Path], run_example: Run) -> None:
    _, workdir = target
    check_golden(f"{example}.txt", run_example(f"{example}.py", workdir).stdout)
