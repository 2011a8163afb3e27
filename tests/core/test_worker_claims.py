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


def packed(tmp_path: Path, n_calls: int, per: int, func: object = double, **settings: object) -> Job:
    return package(
        func,
        [((i,), {}) for i in range(n_calls)],
        backend="slurm",
        settings={"array_workers": 2, **settings},
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


def chatty(x: int) -> int:
    """Output of every kind an element can make: Python's streams, fd 2 directly, a child."""
    import os
    import subprocess
    import sys

    print(f"out of {x}")
    print(f"err of {x}", file=sys.stderr)
    os.write(2, f"fd2 of {x}\n".encode())
    subprocess.run(["echo", f"child of {x}"], check=True)
    if x == 5:
        print("x" * 5000)  # over max_log_bytes: bounded
    return x


def test_each_elements_output_lands_in_its_own_bounded_logs_and_the_workers_in_its_own(tmp_path: Path) -> None:
    job = packed(tmp_path, 8, 1, chatty, max_log_bytes=1024)
    done = workers(job, 0, 1)
    assert [d.returncode for d in done] == [0, 0]
    assert all("ran " in d.stdout for d in done)  # the worker's own lines are not in an element's log
    logs = job.local_dir / "logs"
    for x in range(8):
        out, err = (logs / f"{x}.out").read_text(), (logs / f"{x}.err").read_text()
        assert f"out of {x}\n" in out and f"child of {x}\n" in out, out
        assert err == f"err of {x}\nfd2 of {x}\n", err
        others = [y for y in range(8) if y != x]
        assert not any(f"of {y}\n" in out + err for y in others)
    big = (logs / "5.out").read_text()
    assert "bytes of output dropped here" in big and len(big) < 1024 + 200, len(big)
    assert results(job) == list(range(8))


def dies(x: int) -> int:
    import os
    import signal

    print(f"last words of {x}", flush=True)
    if x == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def test_a_worker_killed_mid_element_still_has_that_elements_output_in_its_log(tmp_path: Path) -> None:
    job = packed(tmp_path, 3, 1, dies)
    done = workers(job, 0)
    assert done[0].returncode == -9
    logs = job.local_dir / "logs"
    assert (logs / "0.out").read_text() == "last words of 0\n"
    assert (logs / "1.out").read_text() == "last words of 1\n"  # written by the drain, which outlived it
    assert not (job.local_dir / "results" / "1.pkl").exists()
