"""The pipelines tutorial's example runs as shown: in local processes and on Slurm."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import check_golden

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.parametrize("target", ["local", "slurm", "slurm-ssh"], indirect=True)
def test_pipeline_tutorial_prints_what_the_page_shows(target: tuple[str, Path], run_example: Run) -> None:
    _, workdir = target
    check_golden("pipeline.txt", run_example("pipeline.py", workdir).stdout)
