"""The recovery page (submit, exit, attach later) and the configuration page's files work as shown."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import EXAMPLES, check_golden

Run = Callable[..., subprocess.CompletedProcess[str]]
CLI = [sys.executable, "-m", "clustrix"]


@pytest.mark.parametrize("target", ["local", "slurm"], indirect=True)
def test_result_recovered_by_attach_and_by_the_cli(target: tuple[str, Path], run_example: Run) -> None:
    _, workdir = target
    job_id = run_example("recovery_submit.py", workdir).stdout.strip()
    attached = run_example([sys.executable, str(EXAMPLES / "recovery_attach.py"), job_id], workdir)
    assert attached.stdout == "499999500000\n"
    from_cli = run_example([*CLI, "result", job_id, "--wait", "--timeout", "300"], workdir)
    assert from_cli.stdout == "499999500000\n"


def realigned(lines: list[str]) -> list[str]:
    """Re-pad a table's columns: without the test's long home path, they are narrower."""
    cells = [re.split(r"  +", line.rstrip("\n")) for line in lines]
    widths = [max(len(row[i]) for row in cells if i < len(row)) for i in range(max(map(len, cells)))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() + "\n" for row in cells]


def test_profiles_file_validates_and_resolves_as_documented(tmp_path: Path, run_example: Run) -> None:
    user_config = Path(os.environ["XDG_CONFIG_HOME"]) / "clustrix" / "config.toml"
    user_config.parent.mkdir(parents=True)
    user_config.write_text((EXAMPLES / "config" / "profiles.toml").read_text())
    validated = run_example([*CLI, "config", "validate"], tmp_path)
    shown = run_example([*CLI, "config", "show", "--profile", "gpu"], tmp_path)
    rows = [line for line in shown.stdout.splitlines(keepends=True) if not line.startswith("home ")]  # the test's
    rows = realigned(rows)
    text = (validated.stdout + "\n$ clustrix config show --profile gpu\n" + "".join(rows)).replace(
        str(user_config), "~/.config/clustrix/config.toml"
    )
    check_golden("config-show.txt", "$ clustrix config validate\n" + text)
