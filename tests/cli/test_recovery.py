"""A job outlives the process that submitted it: SIGKILL the submitter, recover the result elsewhere."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

SUBMITTER = textwrap.dedent(
    """
    import os, sys, time
    from clustrix import cluster

    @cluster(cluster_type="local")
    def square_when_released(x, gate):
        while not os.path.exists(gate):
            time.sleep(0.05)
        return x * x

    future = square_when_released.submit(7, sys.argv[1])
    print(future.job_id, future.native_id, flush=True)
    time.sleep(600)
    """
)

ATTACHER = "import sys, clustrix; print(repr(clustrix.attach(sys.argv[1]).result(timeout=120)))"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_result_recovered_by_cli_and_attach_after_submitter_is_sigkilled(tmp_path: Path, run_cli) -> None:
    gate = tmp_path / "release"
    submitter = subprocess.Popen(
        [sys.executable, "-c", SUBMITTER, str(gate)], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        job_id, worker_pid = submitter.stdout.readline().split()  # printed right after submit returned
        os.kill(submitter.pid, signal.SIGKILL)
        assert submitter.wait(timeout=30) == -signal.SIGKILL
    finally:
        submitter.kill()
        submitter.stdout.close()

    # the detached worker survived its parent: the job is still running, nowhere finished
    assert _alive(int(worker_pid))
    not_yet = run_cli("result", job_id, cwd=tmp_path)
    assert not_yet.returncode == 1
    assert "has not finished" in not_yet.stderr

    gate.touch()
    recovered = run_cli("result", job_id, "--wait", "--timeout", "120", cwd=tmp_path)
    assert recovered.returncode == 0, recovered.stderr
    assert recovered.stdout.strip() == "49"

    attached = subprocess.run(
        [sys.executable, "-c", ATTACHER, job_id], capture_output=True, text=True, timeout=180, cwd=tmp_path
    )
    assert attached.returncode == 0, attached.stderr
    assert attached.stdout.strip() == "49"

    status = run_cli("status", job_id, "--json", cwd=tmp_path)
    assert '"state": "COMPLETED"' in status.stdout
