"""The README's quick start runs as written (so it cannot drift from the code)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), re.S)


def test_quick_start_runs_on_the_local_backend_with_nothing_configured(tmp_path, clustrix_home):
    script = blocks("python")[0] + "\nprint(add(1, 2), fut.result(timeout=60), [f.result(timeout=60) for f in futs])\n"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=os.environ
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3 3 [4, 6]"


def test_cluster_profile_example_is_a_valid_config(tmp_path, monkeypatch):
    from clustrix.lifecycle import resolve

    toml, python = blocks("toml")[0], blocks("python")[1]
    (tmp_path / "clustrix.toml").write_text(toml)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec("from clustrix import cluster\n" + python, namespace)
    settings = resolve(namespace["train"].options)
    assert (settings["cluster_type"], settings["partition"], settings["gpus"]) == ("slurm", "gpu", 1)
    assert settings.sources["cluster_host"] == "profile hpc"
