"""The job script the PBS backend submits, per dialect; PBS Pro scripts against golden files.

Regenerate the golden files after an intended change with ``UPDATE_GOLDEN=1 pytest tests/pbs``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from clustrix import configure, lifecycle
from clustrix.errors import ConfigError
from clustrix.job import package
from clustrix.lifecycle import resolve
from clustrix.target import Target
from clustrix_pbs import plugin

GOLDEN = Path(__file__).parent / "golden"


def simulate(x: int) -> int:
    return x


def render(tmp_path: Path, calls: int = 1, **overrides: Any) -> str:
    """The script of the first chunk with the job id replaced by JOBID (nothing is submitted)."""
    base = {"cluster_type": "pbs", "remote_work_dir": "/scratch/u/.clustrix", "python": "/usr/bin/python3"}
    job, script = lifecycle.render(simulate, [((i,), {}) for i in range(calls)], {**base, **overrides}, tmp_path)
    return script.replace(job.job_id, "JOBID")


def directives(script: str) -> list[str]:
    return [line.removeprefix("#PBS ") for line in script.splitlines() if line.startswith("#PBS ")]


@pytest.mark.parametrize(
    ("golden", "calls", "options"),
    [
        ("pro_single.sh", 1, {"cores": 8, "memory": "16GB", "time": "02:00:00", "queue": "workq", "account": "p1"}),
        ("pro_array.sh", 5, {"tasks_per_job": 1, "max_concurrent": 2, "cores": 2, "gpus": 1}),
        ("pro_extra_directives.sh", 1, {"extra_directives": ["-l place=scatter", "-m abe"], "env": {"OMP": "8"}}),
    ],
)
def test_pbs_pro_scripts_match_golden_files(tmp_path: Path, golden: str, calls: int, options: dict[str, Any]) -> None:
    script = render(tmp_path, calls, pbs_flavor="pro", **options)
    path = GOLDEN / golden
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(script)
    assert script == path.read_text()


def test_torque_dialect_uses_nodes_ppn_mem_and_t_arrays(tmp_path: Path) -> None:
    lines = directives(
        render(tmp_path, 4, pbs_flavor="torque", cores=4, memory="1GB", tasks_per_job=1, max_concurrent=2)
    )
    assert "-l nodes=1:ppn=4,mem=954mb" in lines  # 10**9 bytes in MiB, rounded up
    assert "-t 0-3%2" in lines
    assert not any(line.startswith(("-J", "-l select")) for line in lines)


def test_output_and_error_go_on_the_qsub_command_line(tmp_path: Path) -> None:
    settings = dict(resolve({"cluster_type": "pbs", "remote_work_dir": "/scratch/u/.clustrix"}).values)
    target = Target(settings)
    job = package(
        simulate,
        [((1,), {})],
        backend="pbs",
        settings=settings,
        home=tmp_path,
        remote_work_dir=target.remote_work_dir,
        tasks_per_element=1,
    )
    chunk = plugin.chunks(job, target)[0]
    argv = plugin.submit_argv(f"{job.remote_dir}/job-0.sh", job, target, chunk)
    assert argv == [
        "qsub",
        "-r",
        "n",
        "-o",
        f"{job.remote_dir}/logs/pbs-0.out",
        "-e",
        f"{job.remote_dir}/logs/pbs-0.err",
        f"{job.remote_dir}/job-0.sh",
    ]
    assert not any(line.startswith(("-o", "-e")) for line in directives(render(tmp_path)))


def test_command_paths_are_settings(tmp_path: Path) -> None:
    settings = dict(resolve({"cluster_type": "pbs", "qsub": "/opt/pbs/bin/qsub"}).values)
    assert plugin.command(Target(settings), "qsub") == "/opt/pbs/bin/qsub"


def test_unknown_flavor_is_refused_with_the_choices() -> None:
    with pytest.raises(ConfigError, match="'pro', 'torque'"):
        configure(pbs_flavor="lsf")


def test_account_with_spaces_is_refused_before_submitting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="account"):
        render(tmp_path, account="p1 -W depend=x")
