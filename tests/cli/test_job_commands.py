"""`clustrix jobs|status|result|logs|cancel|clean`, in-process and as a real subprocess."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import time
from pathlib import Path

from clustrix import cluster
from clustrix.job import State
from clustrix.store import open_store


@cluster(cluster_type="local")
def square(x: int) -> int:
    print(f"squaring {x}")
    return x * x


@cluster(cluster_type="local")
def reject(x: int) -> int:
    raise ValueError(f"bad input {x}")


@cluster(cluster_type="local")
def wait_for(gate: str) -> str:
    import os
    import time

    while not os.path.exists(gate):
        time.sleep(0.05)
    return "released"


@cluster(cluster_type="local")
def chatty_wait(gate: str) -> str:
    import os
    import time

    print("waiting for the gate", flush=True)
    while not os.path.exists(gate):
        time.sleep(0.05)
    print("released", flush=True)
    return "released"


def _finished(fn, *args):
    future = fn.submit(*args)
    future.exception(timeout=60)
    return future


# --- jobs ----------------------------------------------------------------------------


def test_jobs_lists_recorded_jobs_newest_first_and_filters_by_state(cli) -> None:
    ok, bad = _finished(square, 3), _finished(reject, 1)
    listing = cli("jobs")
    assert listing.exit_code == 0
    lines = listing.output.splitlines()
    assert lines[0].split()[:5] == ["JOB", "FUNCTION", "BACKEND", "HOST", "STATE"]
    assert lines[1].startswith(bad.job_id) and lines[2].startswith(ok.job_id)
    failed = cli("jobs", "--state", "failed")
    assert bad.job_id in failed.output and ok.job_id not in failed.output
    assert "no jobs recorded matching" in cli("jobs", "--backend", "slurm").output


def test_jobs_json_in_a_subprocess_gives_records_with_settings(run_cli, tmp_path: Path) -> None:
    future = _finished(square, 4)
    done = run_cli("jobs", "--json", "--since", "1h", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (record,) = json.loads(done.stdout)
    assert (record["job_id"], record["function"], record["state"]) == (future.job_id, "square", "COMPLETED")
    assert record["settings"]["cluster_type"] == "local"


def test_jobs_rejects_a_malformed_age_with_exit_2(cli) -> None:
    result = cli("jobs", "--since", "soon")
    assert result.exit_code == 2
    assert "'soon' is not an age" in result.output


# --- status --------------------------------------------------------------------------


def test_status_shows_each_call_of_a_map(cli) -> None:
    futures = square.map([1, 2, 3])
    for f in futures:
        f.result(timeout=60)
    job_id = futures[0].job.job_id
    result = cli("status", job_id, futures[1].job_id)
    assert result.exit_code == 0
    whole, call = (line.split() for line in result.output.splitlines()[1:])
    assert whole[:2] == [job_id, "COMPLETED"] and "(3 completed)" in result.output
    assert call[:2] == [futures[1].job_id, "COMPLETED"] and "call 1 of 3" in result.output


def test_status_of_an_unknown_job_exits_1_naming_it(cli, run_cli, tmp_path: Path) -> None:
    known = _finished(square, 2)
    result = cli("status", known.job_id, "cnosuchjob")
    assert result.exit_code == 1
    assert known.job_id in result.output
    assert "no job 'cnosuchjob' in the job store" in result.output
    done = run_cli("status", "cnosuchjob", cwd=tmp_path)
    assert done.returncode == 1
    assert "no job 'cnosuchjob'" in done.stderr and "clustrix jobs" in done.stderr


def test_status_asks_the_backend_about_a_job_nobody_watches(cli, tmp_path: Path, clustrix_home: Path) -> None:
    gate = tmp_path / "gate"
    future = wait_for.submit(str(gate))
    store = open_store(clustrix_home)
    store.set_states({future.job_id: State.PENDING}, {future.job_id: State.PENDING})  # as if unwatched
    gate.touch()
    future.result(timeout=60)
    store.set_job_state(future.job_id, State.RUNNING)  # a submitter that died before seeing the end
    result = cli("status", future.job_id, "--json")
    assert json.loads(result.output)[0]["state"] == "COMPLETED"


# --- result --------------------------------------------------------------------------


def test_result_prints_repr_and_writes_pickle(cli, run_cli, tmp_path: Path) -> None:
    futures = square.map([5, 6])
    for f in futures:
        f.result(timeout=60)
    assert cli("result", futures[1].job_id).output.strip() == "36"
    assert cli("result", futures[0].job.job_id).output.strip() == "[25, 36]"
    out = tmp_path / "value.pkl"
    done = run_cli("result", futures[0].job_id, "--out", str(out), script=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert pickle.loads(out.read_bytes()) == 25


def test_result_of_a_failed_job_prints_the_remote_error_and_exits_1(cli, run_cli, tmp_path: Path) -> None:
    future = _finished(reject, 9)
    result = cli("result", future.job_id)
    assert result.exit_code == 1
    assert "ValueError: bad input 9" in result.output
    assert "Remote traceback" in result.output
    done = run_cli("result", future.job_id, cwd=tmp_path)
    assert done.returncode == 1
    assert "ValueError: bad input 9" in done.stderr


def test_result_of_an_unknown_job_exits_1(run_cli, tmp_path: Path) -> None:
    done = run_cli("result", "cnosuchjob", cwd=tmp_path)
    assert done.returncode == 1
    assert "no job 'cnosuchjob'" in done.stderr


def test_result_timeout_on_a_running_job_exits_1(cli, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    future = wait_for.submit(str(gate))
    try:
        result = cli("result", future.job_id, "--timeout", "0.5")
        assert result.exit_code == 1
        assert "did not finish within 0.5 s" in result.output
    finally:
        gate.touch()
    assert future.result(timeout=60) == "released"


# --- logs ----------------------------------------------------------------------------


def test_logs_print_the_job_stdout(cli, run_cli, tmp_path: Path) -> None:
    future = _finished(square, 8)
    result = cli("logs", future.job_id, "--stream", "out")
    assert result.exit_code == 0
    assert result.output == "squaring 8\n"
    done = run_cli("logs", future.job_id, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "squaring 8" in done.stdout


def test_logs_follow_streams_output_while_the_job_runs_and_stops_when_it_ends(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    future = chatty_wait.submit(str(gate))
    follower = subprocess.Popen(
        [sys.executable, "-m", "clustrix", "logs", future.job_id, "--follow", "--stream", "out"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert follower.stdout.readline() == "waiting for the gate\n"  # printed while the job still runs
        assert not future.done()
        gate.touch()
        rest, err = follower.communicate(timeout=60)
    finally:
        gate.touch()
        follower.kill()
    assert follower.returncode == 0, err
    assert rest == "released\n"
    assert future.result(timeout=60) == "released"


def test_logs_of_an_unknown_job_exit_1(run_cli, tmp_path: Path) -> None:
    done = run_cli("logs", "cnosuchjob", cwd=tmp_path)
    assert done.returncode == 1 and "no job 'cnosuchjob'" in done.stderr


# --- cancel --------------------------------------------------------------------------


def test_cancel_stops_a_running_job_and_records_it(cli, tmp_path: Path, clustrix_home: Path) -> None:
    future = wait_for.submit(str(tmp_path / "never"))
    result = cli("cancel", future.job_id)
    assert result.exit_code == 0
    assert f"cancelled {future.job_id}" in result.output
    assert open_store(clustrix_home).row(future.job_id)["state"] == "CANCELLED"
    assert type(future.exception(timeout=60)).__name__ == "JobCancelled"
    assert "already ended (CANCELLED)" in cli("cancel", future.job_id).output


def test_cancel_in_a_subprocess_reports_unknown_jobs_with_exit_1(run_cli, tmp_path: Path) -> None:
    future = wait_for.submit(str(tmp_path / "never"))
    done = run_cli("cancel", future.job_id, "cnosuchjob", cwd=tmp_path)
    assert done.returncode == 1
    assert f"cancelled {future.job_id}" in done.stdout
    assert "no job 'cnosuchjob'" in done.stderr
    assert type(future.exception(timeout=60)).__name__ == "JobCancelled"


# --- clean ---------------------------------------------------------------------------


def test_clean_removes_finished_jobs_dirs_and_records_but_not_running_ones(
    cli, tmp_path: Path, clustrix_home: Path
) -> None:
    done = _finished(square, 2)
    gate = tmp_path / "gate"
    running = wait_for.submit(str(gate))
    try:
        assert done.job.local_dir.is_dir()
        assert "would remove 1 finished job(s)" in cli("clean", "--dry-run").output
        assert done.job.local_dir.is_dir()
        assert "removed 0 finished" in cli("clean", "--older-than", "1d").output
        result = cli("clean")
        assert result.exit_code == 0
        assert f"removed 1 finished job(s): {done.job_id}" in result.output
        assert not done.job.local_dir.exists()
        assert running.job.local_dir.is_dir()
        store = open_store(clustrix_home)
        assert [r["job_id"] for r in store.jobs()] == [running.job_id]
    finally:
        gate.touch()
    assert running.result(timeout=60) == "released"


def test_clean_in_a_subprocess_returns_json(run_cli, tmp_path: Path) -> None:
    done = _finished(reject, 1)
    time.sleep(0)  # nothing to wait for: the store says FAILED already
    result = run_cli("clean", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["removed"] == [done.job_id]
    assert run_cli("clean", "--older-than", "yesterday", cwd=tmp_path).returncode == 2
