"""The job script the SLURM backend submits: resources become the right #SBATCH lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clustrix import lifecycle
from clustrix.errors import ConfigError
from clustrix.lifecycle import resolve
from clustrix.target import Target


def a_long_function_name(x: int) -> int:
    return x


def render(tmp_path: Path, calls: int = 1, **overrides: Any) -> str:
    """The script of the first chunk, as `clustrix render` prints it (nothing is submitted)."""
    options = {"cluster_type": "slurm", "remote_work_dir": "/scratch/u/.clustrix", **overrides}
    _, script = lifecycle.render(a_long_function_name, [((i,), {}) for i in range(calls)], options, tmp_path)
    return script


def directives(script: str) -> list[str]:
    return [line.removeprefix("#SBATCH ") for line in script.splitlines() if line.startswith("#SBATCH ")]


def test_resources_become_sbatch_directives(tmp_path: Path) -> None:
    lines = directives(
        render(
            tmp_path,
            cores=8,
            memory="16GB",
            time="1-02:00:00",
            partition="gpu",
            account="proj1",
            qos="high",
            gpus=2,
            nodes=1,
        )
    )
    assert "--cpus-per-task=8" in lines
    assert "--mem=15259M" in lines  # 16 * 10**9 bytes in MiB, rounded up
    assert "--time=26:00:00" in lines
    assert {"--partition=gpu", "--account=proj1", "--qos=high", "--gres=gpu:2", "--nodes=1"} <= set(lines)
    assert "--job-name=a_long_function_name" in lines


@pytest.mark.parametrize(("memory", "mib"), [("512MB", 489), ("2Gi", 2048), ("4G", 4096), (1000, 1000)])
def test_memory_is_converted_to_mebibytes(tmp_path: Path, memory: Any, mib: int) -> None:
    assert f"--mem={mib}M" in directives(render(tmp_path, memory=memory))


def test_logs_go_to_the_job_dir(tmp_path: Path) -> None:
    script = render(tmp_path)
    lines = directives(script)
    jobdir = next(line.split("=", 1)[1] for line in lines if line.startswith("--chdir="))
    assert jobdir.startswith("/scratch/u/.clustrix/jobs/")
    assert f"--error={jobdir}/logs/slurm-%j.err" in lines
    assert f"--output={jobdir}/logs/slurm-%j.out" in lines


def test_map_is_one_array_with_max_concurrent(tmp_path: Path) -> None:
    lines = directives(render(tmp_path, calls=10, tasks_per_job=1, max_concurrent=3))
    assert "--array=0-9%3" in lines
    assert any(line.endswith("/logs/slurm-%A_%a.err") for line in lines)


def test_packing_makes_fewer_array_elements(tmp_path: Path) -> None:
    assert "--array=0-4" in directives(render(tmp_path, calls=10, tasks_per_job=2))


def test_job_name_is_sanitised(tmp_path: Path) -> None:
    assert "--job-name=my_job_name_x" in directives(render(tmp_path, job_name="my job/name;x"))


def test_extra_directives_are_added_verbatim(tmp_path: Path) -> None:
    lines = directives(render(tmp_path, extra_directives=["--constraint=skylake", "--exclusive"]))
    assert lines[-2:] == ["--constraint=skylake", "--exclusive"]


def test_a_value_that_would_break_the_script_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="partition"):
        render(tmp_path, partition="debug\nrm -rf ~")


def test_a_work_dir_with_spaces_is_quoted_for_sbatch(tmp_path: Path) -> None:
    lines = directives(render(tmp_path, remote_work_dir="/scratch/my dir"))
    assert any(line.startswith('--chdir="/scratch/my dir/jobs/') for line in lines)


def test_command_paths_are_settings(tmp_path: Path) -> None:
    settings = resolve({"cluster_type": "slurm", "sbatch": "/opt/slurm/bin/sbatch"}).values
    assert settings["sbatch"] == "/opt/slurm/bin/sbatch"
    from clustrix_slurm import plugin

    assert plugin.command(Target(settings), "sbatch") == "/opt/slurm/bin/sbatch"
    assert plugin.command(Target(settings), "squeue") == "squeue"
