"""Exactly-once submission against the real Slurm, reached over SSH.

The ``sbatch`` setting points at a wrapper on the host that runs the real ``sbatch`` and
then, once, kills its own SSH session (the sshd process above it) before the reply can
leave: the connection is really cut between ``sbatch`` and its answer. A second wrapper
cuts before ``sbatch`` runs. Clustrix must neither lose the job that was submitted nor
submit it twice.
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clustrix import cluster
from clustrix.errors import SubmissionUncertain
from clustrix.ssh_transport import transport_for
from clustrix.transport import Transport
from infrastructure import PBS_BIN, require

CUTTING_SUBMIT = """\
#!/bin/sh
# {submit} that loses its SSH connection once, {when} the real one runs
dir=$(dirname "$0")
echo "$*" >> "$dir/calls"
cut() {{
  pid=$$
  while [ "$pid" -gt 1 ]; do
    case $(cat "/proc/$pid/comm") in sshd*) kill -KILL "$pid"; exit 99;; esac
    pid=$(awk '{{print $4}}' "/proc/$pid/stat")
  done
  echo "no sshd above $$" >&2
  exit 98
}}
if [ {when} = before ] && mkdir "$dir/cut" 2>/dev/null; then cut; fi
out=$({submit} "$@") || {{ code=$?; printf '%s\\n' "$out"; exit "$code"; }}
if [ {when} = after ] && mkdir "$dir/cut" 2>/dev/null; then cut; fi
printf '%s\\n' "$out"
"""


@pytest.fixture(params=["paramiko", "openssh"])
def slurm_over_ssh(ssh_options: dict[str, Any], request: pytest.FixtureRequest) -> dict[str, Any]:
    """Slurm through SSH, with either SSH client."""
    require("slurm")
    return {**ssh_options, "cluster_type": "slurm", "memory": "256MB", "ssh_timeout": 10.0, "ssh_client": request.param}


@pytest.fixture
def remote_dir(slurm_over_ssh: dict[str, Any]) -> Iterator[tuple[Transport, str]]:
    transport = transport_for(slurm_over_ssh)
    directory = f"{transport.home()}/.clustrix-tests/cut-{secrets.token_hex(4)}"
    transport.mkdirs([directory])
    yield transport, directory
    transport.remove_tree(directory)


def install_wrapper(transport: Transport, directory: str, when: str, tmp_path: Path, submit: str = "sbatch") -> str:
    local = tmp_path / f"submit-cut-{when}.sh"
    local.write_text(CUTTING_SUBMIT.format(when=when, submit=shlex.quote(submit)))
    transport.put(local, f"{directory}/submit", mode=0o700)
    return f"{directory}/submit"


def jobs_running(transport: Transport, script: str) -> list[str]:
    listing = transport.run(["squeue", "-h", "--me", "-t", "all", "-o", "%F|%o"]).check().stdout
    return sorted({line.split("|")[0] for line in listing.splitlines() if line.split("|", 1)[1:] == [script]})


def calls_made(transport: Transport, directory: str) -> list[str]:
    return transport.run(["sh", "-c", f"cat {shlex.quote(directory)}/calls"]).check().stdout.splitlines()


def test_connection_cut_between_sbatch_and_its_reply_submits_once_and_keeps_the_job(
    slurm_over_ssh: dict[str, Any], remote_dir: tuple[Transport, str], tmp_path: Path
) -> None:
    transport, directory = remote_dir
    sbatch = install_wrapper(transport, directory, "after", tmp_path)

    @cluster(**slurm_over_ssh, sbatch=sbatch)
    def square(x: int) -> int:
        return x * x

    future = square.submit(7)
    assert future.result(timeout=180) == 49
    assert calls_made(transport, directory) != [] and transport.missing([f"{directory}/cut"]) == set(), (
        "the wrapper must really have cut the connection"
    )
    assert len(calls_made(transport, directory)) == 1, "sbatch must not be run again after an ambiguous failure"
    script = f"{future.job.remote_dir}/job-0.sh"
    assert jobs_running(transport, script) == [future.native_id], "exactly one Slurm job, and it is the recorded one"


def test_connection_cut_before_sbatch_ran_submits_again_once(
    slurm_over_ssh: dict[str, Any], remote_dir: tuple[Transport, str], tmp_path: Path
) -> None:
    transport, directory = remote_dir
    sbatch = install_wrapper(transport, directory, "before", tmp_path)

    @cluster(**slurm_over_ssh, sbatch=sbatch)
    def cube(x: int) -> int:
        return x**3

    future = cube.submit(3)
    assert future.result(timeout=180) == 27
    assert len(calls_made(transport, directory)) == 2, "asked the scheduler, found nothing, submitted once more"
    script = f"{future.job.remote_dir}/job-0.sh"
    assert jobs_running(transport, script) == [future.native_id]


def test_scheduler_that_cannot_look_jobs_up_fails_as_uncertain_instead_of_submitting_twice(
    slurm_over_ssh: dict[str, Any], remote_dir: tuple[Transport, str], tmp_path: Path
) -> None:
    require("torque")
    transport, directory = remote_dir
    qsub = install_wrapper(transport, directory, "after", tmp_path, submit=str(PBS_BIN / "qsub"))
    options = {**slurm_over_ssh, "cluster_type": "pbs", "qsub": qsub}
    options.update({name: str(PBS_BIN / name) for name in ("qstat", "qdel")})

    @cluster(**options)
    def noop() -> None:
        return None

    with pytest.raises(SubmissionUncertain, match="look for the job") as info:
        noop.submit()
    assert "job-0.sh" in str(info.value), "the error names the script to look for"
    assert len(calls_made(transport, directory)) == 1, "qsub must not be run again blindly"
    job_id = info.value.job_id
    assert job_id is not None
    orphans = jobs_running(transport, f"{transport.home()}/.clustrix/jobs/{job_id}/job-0.sh")
    assert len(orphans) == 1, "the job did reach the scheduler: the error was right not to resubmit"
    transport.run(["scancel", *orphans]).check()


def test_ssh_backend_launch_sent_again_starts_nothing_and_reports_the_first_start(
    ssh_options: dict[str, Any],
) -> None:
    """The SSH backend's answer to an unknown outcome is to send its launch again: that must
    not start the job a second time, only report the pid of the start that got through."""
    from clustrix_ssh import scripts

    @cluster(**ssh_options, keep_files=True)
    def once() -> str:
        return "ran"

    future = once.submit()
    assert future.result(timeout=120) == "ran"
    transport, jobdir = future.target.transport, future.job.remote_dir
    try:
        again = transport.run(scripts.argv_for(scripts.LAUNCH, [jobdir]), input="# a second start\nexit 7\n")
        assert again.check().stdout.strip() == future.native_id
        assert "a second start" not in (transport.read_text(f"{jobdir}/job.sh") or ""), "nothing was started again"
    finally:
        transport.remove_tree(jobdir)
