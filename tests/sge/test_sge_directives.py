"""The job script the SGE backend submits: resources become the right #$ lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clustrix import lifecycle
from clustrix.errors import ConfigError


def simulate(x: int) -> int:
    return x


def render(tmp_path: Path, calls: int = 1, **overrides: Any) -> str:
    """The script of the first chunk, as `clustrix render` prints it (nothing is submitted)."""
    options = {"cluster_type": "sge", "remote_work_dir": "/scratch/u/.clustrix", **overrides}
    _, script = lifecycle.render(simulate, [((i,), {}) for i in range(calls)], options, tmp_path)
    return script


def directives(script: str) -> list[str]:
    return [line.removeprefix("#$ ") for line in script.splitlines() if line.startswith("#$ ")]


def test_resources_become_grid_engine_directives(tmp_path: Path) -> None:
    lines = directives(render(tmp_path, cores=4, memory="16GB", time="1-02:00:00", queue="long.q", account="proj1"))
    assert lines[:3] == ["-N simulate", "-S /bin/bash", "-cwd"]
    assert "-pe smp 4" in lines
    assert "-l h_vmem=3815M" in lines  # per slot: 16 * 10**9 bytes / 4 cores, in MiB rounded up
    assert "-l h_rt=26:00:00" in lines
    assert {"-q long.q", "-A proj1"} <= set(lines)


def test_logs_go_to_the_job_directory_per_task(tmp_path: Path) -> None:
    lines = directives(render(tmp_path))
    logs = [line for line in lines if line.startswith(("-o ", "-e "))]
    assert logs == [
        f"-o /scratch/u/.clustrix/jobs/{_job_id(tmp_path)}/logs/sge-0.$TASK_ID.out",
        f"-e /scratch/u/.clustrix/jobs/{_job_id(tmp_path)}/logs/sge-0.$TASK_ID.err",
    ]


def _job_id(tmp_path: Path) -> str:
    (job_dir,) = (tmp_path / "jobs").iterdir()
    return job_dir.name


def test_parallel_environment_is_configurable_and_single_core_needs_none(tmp_path: Path) -> None:
    assert "-pe mpi-smp 2" in directives(render(tmp_path, cores=2, sge_pe="mpi-smp"))
    assert not any(line.startswith("-pe") for line in directives(render(tmp_path)))


def test_job_name_with_spaces_is_sanitised(tmp_path: Path) -> None:
    assert "-N my_run__1" in directives(render(tmp_path, job_name="my run #1"))


def test_array_counts_tasks_from_one_and_limits_concurrency(tmp_path: Path) -> None:
    script = render(tmp_path, calls=5, tasks_per_job=1, max_concurrent=2)
    assert {"-t 1-5", "-tc 2"} <= set(directives(script))
    assert "CLUSTRIX_ELEMENT=$(( ${SGE_TASK_ID} - 1 + 0 ))" in script


def test_extra_directives_are_added_verbatim_after_the_generated_ones(tmp_path: Path) -> None:
    lines = directives(render(tmp_path, extra_directives=["-l scratch=10G", "-P physics"]))
    assert lines[-2:] == ["-l scratch=10G", "-P physics"]


def test_queue_with_a_space_is_refused_before_submitting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="queue"):
        render(tmp_path, queue="all.q; rm -rf /")
