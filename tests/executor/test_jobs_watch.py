"""`clustrix jobs --watch` follows live jobs to their end: a bar on a terminal, none in a pipe."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_progress import terminal

from clustrix import cluster

pytest.importorskip("tqdm")


@cluster
def wait_for(gate: str) -> str:
    """Return once ``gate`` exists (at most two minutes)."""
    deadline = time.monotonic() + 120
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            raise TimeoutError(gate)
        time.sleep(0.05)
    return "through"


def test_watch_on_a_terminal_shows_the_live_calls_until_they_end(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    futures = wait_for.map([str(gate)] * 2)

    def open_gate_once_the_bar_shows(output: str) -> None:
        if "0/2" in output and not gate.exists():
            gate.touch()

    output = terminal(
        [sys.executable, "-m", "clustrix", "jobs", "--watch"], tmp_path, on_output=open_gate_once_the_bar_shows
    )
    assert "2/2" in output
    assert "COMPLETED  2 (2 completed)" in output
    assert [f.result(timeout=120) for f in futures] == ["through", "through"]


def test_watch_in_a_pipe_prints_only_the_final_table(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    futures = wait_for.map([str(gate)] * 2)
    process = subprocess.Popen(
        [sys.executable, "-m", "clustrix", "jobs", "--watch"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    gate.touch()
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert err == ""
    assert out.splitlines()[0].startswith("JOB") and "COMPLETED  2 (2 completed)" in out
    assert [f.result(timeout=120) for f in futures] == ["through", "through"]
