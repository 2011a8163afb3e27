"""The job scripts the tutorials show are what `clustrix render` prints for their configs today."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import EXAMPLES, check_golden

Run = Callable[..., subprocess.CompletedProcess[str]]

#: config shown in a tutorial -> extra `clustrix render` arguments
HOST = ["--set", "remote_work_dir=/scratch/alice/clustrix", "--set", "python=/usr/bin/python3"]
RENDERED = {
    "slurm-login": [*HOST, "--set", "cores=4", "--set", "memory=8GB"],
    "pbs-pro": HOST,
    "torque": HOST,
    "sge": [*HOST, "--set", "cores=4", "--set", "memory=8GB"],
    "k8s": [],
}


@pytest.mark.parametrize("config", list(RENDERED))
def test_render_shows_the_tutorial_script(config: str, tmp_path: Path, run_example: Run) -> None:
    shutil.copy(EXAMPLES / "config" / f"{config}.toml", tmp_path / "clustrix.toml")
    argv = [sys.executable, "-m", "clustrix", "render", str(EXAMPLES / "montecarlo.py") + ":count_inside"]
    argv += ["--calls", "8"]
    done = run_example(argv + RENDERED[config], tmp_path)
    text = re.sub(r'"(clustrix-count-inside-c[0-9a-f]+)-[a-z0-9]{5}"', r'"\1"', done.stdout)
    check_golden(f"render/{config}.txt", text)
