"""On the local backend, an element whose process is killed mid-call runs once more.

The supervisor's workers take elements one at a time, as array tasks claim them on a batch
scheduler; a worker killed by a signal (the OOM killer, ``kill -9``) before writing its
element's result must not lose that element's calls.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from clustrix import cluster
from clustrix.errors import JobFailed


def test_a_call_killed_from_outside_mid_call_is_run_again_and_reported_once(tmp_path: Path) -> None:
    @cluster(cluster_type="local", max_workers=2, executor="processes")
    def work(x: int, where: str) -> int:
        import os
        import time
        from pathlib import Path

        runs = Path(where, f"{x}.runs")
        with runs.open("a") as f:
            f.write(f"{os.getpid()}\n")
        if x == 3 and len(runs.read_text().split()) == 1:
            Path(where, "victim.tmp").write_text(str(os.getpid()))
            os.replace(Path(where, "victim.tmp"), Path(where, "victim"))  # whole when the test sees it
            time.sleep(60)  # killed here, from outside
        return x * 10

    futures = work.map(range(6), [str(tmp_path)] * 6)  # processes: the I/O names would choose threads
    victim = tmp_path / "victim"
    deadline = time.monotonic() + 60
    while not victim.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(int(victim.read_text()), signal.SIGKILL)
    assert [f.result(timeout=60) for f in futures] == [0, 10, 20, 30, 40, 50]
    assert len((tmp_path / "3.runs").read_text().split()) == 2  # once killed, once to the end
    assert all(len((tmp_path / f"{x}.runs").read_text().split()) == 1 for x in (0, 1, 2, 4, 5))
    err = Path(futures[3].job.remote_log(futures[3].job.element_of(3), "err")).read_text()
    assert "killed by SIGKILL without a result: running it once more" in err


def test_a_call_killed_on_both_runs_fails_naming_the_signal(tmp_path: Path) -> None:
    @cluster(cluster_type="local", executor="processes")
    def doomed(where: str) -> None:
        import os
        import signal
        from pathlib import Path

        with Path(where, "runs").open("a") as f:
            f.write("run\n")
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(JobFailed, match="killed by signal SIGKILL"):
        doomed(str(tmp_path))
    assert (tmp_path / "runs").read_text().split() == ["run", "run"]


def test_a_call_that_exits_without_a_result_is_not_run_again(tmp_path: Path) -> None:
    @cluster(cluster_type="local", executor="processes")
    def leave(where: str) -> None:
        import os
        from pathlib import Path

        with Path(where, "runs").open("a") as f:
            f.write("run\n")
        os._exit(3)

    with pytest.raises(JobFailed, match="exited with code 3"):
        leave(str(tmp_path))
    assert (tmp_path / "runs").read_text().split() == ["run"]
