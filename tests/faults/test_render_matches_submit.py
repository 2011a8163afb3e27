"""Always fails before submission, and `clustrix render` says so too: render runs submit's checks.

`render` builds the job script with the same code as submission (configuration checks,
the scheduler's directive and path checks); the only difference is that it asks the host
nothing, so a remote home it did not look up is shown as ``$HOME``. A relative
``remote_work_dir`` is under the execution host's home, never applied twice.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clustrix import ConfigError, cluster
from clustrix.lifecycle import render
from infrastructure import LOOPBACK_SSH, PBS_BIN, SSH_DIR, require

#: never contacted: render asks the host nothing (the name cannot resolve, by RFC 2606)
HOST = "login.example.invalid"


def simulate(x: int = 1) -> int:
    return x


def clustrix_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clustrix", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


@pytest.fixture
def jobs_py(tmp_path: Path) -> Path:
    path = tmp_path / "jobs.py"
    path.write_text("def simulate(x=1):\n    return x\n")
    return path


@pytest.mark.parametrize("calls", ["1", "3"])
def test_render_for_a_remote_slurm_host_without_remote_work_dir_shows_home(jobs_py: Path, calls: str) -> None:
    """The default work dir is the host's ~/.clustrix: render neither refuses it nor asks the host."""
    done = clustrix_cli(
        "render",
        f"{jobs_py}:simulate",
        "--calls",
        calls,
        "--set",
        "cluster_type=slurm",
        "--set",
        f"cluster_host={HOST}",
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"^#SBATCH --chdir=\$HOME/\.clustrix/jobs/c[0-9a-f]+$", done.stdout, re.MULTILINE)
    assert re.search(r"^cd \$HOME/\.clustrix/jobs/c[0-9a-f]+$", done.stdout, re.MULTILINE)


def test_render_api_shows_the_remote_home_as_home(tmp_path: Path) -> None:
    overrides = {"cluster_type": "slurm", "cluster_host": HOST, "remote_work_dir": "~/work"}
    _, script = render(simulate, [((), {})] * 2, overrides, tmp_path)
    assert script is not None
    assert "#SBATCH --chdir=$HOME/work/jobs/" in script
    assert "#SBATCH --array=0-1" in script


@pytest.mark.parametrize("backend", ["slurm", "pbs", "sge"])
def test_relative_remote_work_dir_is_under_the_remote_home_once(backend: str, tmp_path: Path) -> None:
    overrides = {"cluster_type": backend, "cluster_host": HOST, "remote_work_dir": "scratch/clustrix"}
    job, script = render(simulate, [((), {})], overrides, tmp_path)
    assert script is not None
    jobdir = f"$HOME/scratch/clustrix/jobs/{job.job_id}"
    assert f"cd {jobdir}\n" in script
    assert f" {jobdir}/runner.py {jobdir} " in script
    relative = re.findall(r"(?<![\w/$])scratch/clustrix", script.replace("$HOME/scratch/clustrix", ""))
    assert relative == [], f"a relative job directory in:\n{script}"


#: remote_work_dir values a scheduler cannot carry in its directives or its -o/-e paths
REFUSED = [
    ("pbs", "/tmp/clustrix-faults/a:b"),
    ("pbs", "/tmp/clustrix-faults/a b"),
    ("sge", "/tmp/clustrix-faults/a b"),
    ("sge", "/tmp/clustrix-faults/a:b"),
    ("slurm", '/tmp/clustrix-faults/a"b'),
    ("slurm", "/tmp/clustrix-faults/$USER"),
]


@pytest.mark.parametrize(("backend", "work_dir"), REFUSED)
def test_render_refuses_the_remote_work_dir_that_submit_refuses(
    backend: str, work_dir: str, tmp_path: Path, clustrix_home: Path
) -> None:
    options: dict[str, Any] = {"cluster_type": backend, "remote_work_dir": work_dir}
    if backend == "pbs":  # commands by path, as the PBS suite does: nothing reaches them here
        options.update({name: str(PBS_BIN / name) for name in ("qsub", "qstat", "qdel")})
    with pytest.raises(ConfigError, match="remote_work_dir") as rendered:
        render(simulate, [((), {})], options, tmp_path)

    with pytest.raises(ConfigError, match="remote_work_dir") as submitted:
        cluster(**options)(simulate).submit()
    job_ids = re.compile(r"c[0-9a-f]{17}")
    assert job_ids.sub("ID", str(rendered.value)) == job_ids.sub("ID", str(submitted.value))
    assert not any((clustrix_home / "jobs").glob("*")), "a refused job leaves no job directory"


def test_clustrix_render_cli_exits_2_for_a_pbs_work_dir_qsub_cannot_carry(jobs_py: Path) -> None:
    done = clustrix_cli(
        "render", f"{jobs_py}:simulate", "--set", "cluster_type=pbs", "--set", "remote_work_dir=/scratch/a:b"
    )
    assert done.returncode == 2, done.stdout
    assert "remote_work_dir: '/scratch/a:b/jobs/" in done.stderr
    assert "qsub -o/-e paths cannot carry" in done.stderr


def test_remote_work_dir_naming_another_users_home_is_refused_at_decoration() -> None:
    with pytest.raises(ConfigError, match="names another user's home"):
        cluster(remote_work_dir="~alice/clustrix")


@pytest.fixture
def relative_work_dir() -> Iterator[str]:
    """A work directory relative to the SSH test user's home, removed afterwards."""
    require("ssh")
    name = f"clustrix-faults-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(
        ["ssh", "-F", str(SSH_DIR / "ssh_config"), "clustrix-test", "rm", "-rf", "--", name],
        capture_output=True,
        timeout=60,
    )


def test_relative_remote_work_dir_runs_a_job_on_the_ssh_host(relative_work_dir: str) -> None:
    @cluster(cluster_type="ssh", **LOOPBACK_SSH, remote_work_dir=relative_work_dir)
    def where() -> str:
        import os

        return os.getcwd()

    cwd = where.submit().result(timeout=300)
    assert cwd.startswith("/") and f"/{relative_work_dir}/jobs/" in cwd
