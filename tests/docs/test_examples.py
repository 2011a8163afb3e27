"""Every tutorial workload runs unchanged on every backend and prints what the docs show."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import check_golden

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.parametrize("example", ["first_function", "montecarlo", "sweep", "failing"])
def test_example_prints_what_the_docs_show(example: str, target: tuple[str, Path], run_example: Run) -> None:
    name, workdir = target
    done = run_example(f"{example}.py", workdir)
    check_golden(f"{example}.txt", done.stdout)
