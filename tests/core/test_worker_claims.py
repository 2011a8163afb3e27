"""runner.py --worker: array tasks that claim elements, without a scheduler (processes started here)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from clustrix.job import Job, package
from clustrix.outcome import read_outcomes


def double(x: int) -> int:
    return 2 * x


def packed(tmp_path: Path, n_calls: int, per: int) -> Job:
    return package(
        double,
        [((i,), {}) for i in range(n_calls)],
        backend="slurm",
        settings={"array_workers": 2},
        home=tmp_path,
        remote_work_dir=str(tmp_path),
        tasks_per_element=per,
    )


def workers(job: Job, *ids: int) -> list[subprocess.CompletedProcess[str]]:
    argv = [sys.executable, str(job.local_dir / "runner.py"), str(job.local_dir), "--worker"]
    running = [subprocess.Popen([*argv, str(w)], stdout=subprocess.PIPE, text=True) for w in ids]
    return [subprocess.CompletedProcess(p.args, p.wait(), p.stdout.read() if p.stdout else "") for p in running]


def results(job: Job) -> list[int]:
    values = []
    for element in range(job.n_elements):
        values += [value for _, value in read_outcomes(job.result_path(element))]
    return values


def test_two_workers_share_the_elements_and_each_runs_once(tmp_path: Path) -> None:
    job = packed(tmp_path, 1000, 10)
    done = workers(job, 0, 1)
    assert [d.returncode for d in done] == [0, 0]
    ran = [int(d.stdout.split("ran ")[1].split()[0]) for d in done]
    assert sum(ran) == 100, done
    claims = sorted(os.listdir(job.local_dir / "claims"))
    assert sorted(name for name in claims if "." not in name) == sorted(str(e) for e in range(100))
    assert sorted(int(name.split(".")[0]) for name in claims if "." in name) == list(range(100))
    assert results(job) == [2 * i for i in range(1000)]


def test_element_whose_holder_died_on_this_host_is_taken_over_once(tmp_path: Path) -> None:
    job = packed(tmp_path, 4, 1)
    claims = job.local_dir / "claims"
    claims.mkdir()
    gone = _a_dead_pid()
    (claims / "2").touch()
    (claims / "2.7").write_text(f"{socket.gethostname()} {gone}\n")  # worker 7 died holding element 2
    (claims / "3").touch()
    (claims / "3.8").write_text(f"another-host {gone}\n")  # on another node: the client decides
    done = workers(job, 0)
    assert "element 2: its worker 7 died on this host; worker 0 runs it again" in done[0].stdout
    names = sorted(os.listdir(claims))
    assert {"2.released", "2.7.released", "2.0"} <= set(names) and "3.released" not in names, names
    assert sorted(p.name for p in (job.local_dir / "results").glob("*.pkl")) == ["0.pkl", "1.pkl", "2.pkl"]


def _a_dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid
