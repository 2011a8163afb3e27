"""Ctrl-C (a real SIGINT to a script): a blocking call cancels its job and says so; an
interrupted ``future.result()`` leaves the job running and says how to cancel it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from clustrix.store import Store

SCRIPT = textwrap.dedent(
    """
    import sys
    from clustrix import cluster

    @cluster(cluster_type="local")
    def nap(seconds):
        import time

        time.sleep(seconds)
        return "woke up"

    if sys.argv[1] == "call":
        nap(300)
    else:
        nap.submit(300).result()
    """
)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _until(condition, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout} s")
        time.sleep(0.1)


def _interrupt_while_waiting(tmp_path: Path, home: Path, how: str) -> tuple[str, str, Store]:
    """Run the script, wait until it blocks on a running job, send SIGINT; (stderr, job id, store)."""
    script = tmp_path / "interrupted.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), how],
        cwd=tmp_path,
        env={**os.environ, "CLUSTRIX_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = Store(home / "jobs.sqlite")
    try:

        def running() -> bool:
            rows = store.jobs(state="RUNNING")
            return bool(rows) and (Path(rows[0]["local_dir"]) / "status" / "0.started").exists()

        _until(running, "the job did not start running")  # the watcher saw it: the script waits in result()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return stderr, store.jobs()[0]["job_id"], store


def test_ctrl_c_on_a_blocking_call_cancels_its_job_and_says_so(tmp_path: Path, clustrix_home: Path) -> None:
    stderr, job_id, store = _interrupt_while_waiting(tmp_path, clustrix_home, "call")
    assert "KeyboardInterrupt" in stderr, stderr  # re-raised after cancelling
    lines = [line for line in stderr.splitlines() if line.startswith("clustrix:")]
    assert len(lines) == 1 and f"cancelled job {job_id}" in lines[0], stderr
    row = store.row(job_id)
    assert row["state"] == "CANCELLED"
    _until(lambda: not _alive(int(row["native_id"])), "the job's worker still runs")


def test_ctrl_c_on_future_result_leaves_the_job_running_and_says_how_to_cancel(
    tmp_path: Path, clustrix_home: Path
) -> None:
    stderr, job_id, store = _interrupt_while_waiting(tmp_path, clustrix_home, "future")
    pid = int(store.row(job_id)["native_id"])
    try:
        assert "KeyboardInterrupt" in stderr, stderr
        lines = [line for line in stderr.splitlines() if line.startswith("clustrix:")]
        assert len(lines) == 1 and "keeps running" in lines[0] and f"`clustrix cancel {job_id}`" in lines[0], stderr
        assert store.row(job_id)["state"] in ("PENDING", "RUNNING")
        assert _alive(pid)
        cancel = subprocess.run(
            [sys.executable, "-m", "clustrix", "cancel", job_id],
            env={**os.environ, "CLUSTRIX_HOME": str(clustrix_home)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert cancel.returncode == 0, cancel.stderr  # the printed advice works
        _until(lambda: not _alive(pid), "`clustrix cancel` did not stop the job")
        assert store.row(job_id)["state"] == "CANCELLED"
    finally:
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
