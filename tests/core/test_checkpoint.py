"""checkpoint.save/load/stopping on the local backend and in the runner itself.

The retried attempt is played by :func:`attempts.next_attempt`: the runner run again in the
same job dir after the first attempt's result is set aside (what the client does on a retry).
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from attempts import lost_steps, next_attempt, saved, steps, wait_until

from clustrix import checkpoint, cluster, lifecycle
from clustrix.checkpoint import CheckpointForged
from clustrix.environment import captured_requirements
from clustrix.job import Job, State
from clustrix.outcome import read_outcomes
from clustrix.stop_warning import lead_time
from clustrix.testing import wait_for_state

DEADLINE = 60
STEPS = 40  # 8 s: the warning comes after 3 steps


def job_dir(future: Any) -> Path:
    return Path(future.job.local_dir)


def test_outside_a_job_save_does_nothing_load_gives_the_default_and_stopping_is_false() -> None:
    checkpoint.save({"epoch": 3})
    assert checkpoint.load(default={"epoch": 0}) == {"epoch": 0}
    assert checkpoint.load() is None
    assert checkpoint.stopping() is False
    assert steps(3, 0) == 3  # a plain call runs from the start to the end


@pytest.mark.parametrize("signum", [signal.SIGUSR1, signal.SIGTERM])
def test_scheduler_warning_makes_stopping_true_requeues_the_call_and_the_next_attempt_resumes(
    signum: signal.Signals,
) -> None:
    future = cluster(executor="processes")(steps).submit(STEPS, 0.2)
    jobdir = job_dir(future)
    wait_until(lambda: (saved(jobdir) or 0) >= 3, "three saved steps", DEADLINE)
    pid = json.loads((jobdir / "status" / "0.started").read_text())["pid"]
    os.kill(pid, signum)
    wait_until(lambda: (jobdir / "results" / "0.pkl").exists(), "the result file", DEADLINE)
    ((tag, reason),) = read_outcomes(jobdir / "results" / "0.pkl")
    assert tag == "requeue"
    assert reason.startswith("walltime" if signum == signal.SIGUSR1 else "terminated")
    assert (
        f"{signal.Signals(signum).name}: checkpoint.stopping() is now true" in (jobdir / "logs" / "0.err").read_text()
    )
    wait_for_state(future, lambda s: s.terminal, DEADLINE)  # the process exited 0 after writing it
    stopped_at = saved(jobdir)

    # the next attempt resumes from the last save instead of step 0
    done = next_attempt(jobdir)
    assert done == [("ok", STEPS)]
    assert 3 <= stopped_at < STEPS and saved(jobdir) == STEPS


def test_calls_of_the_element_not_yet_run_are_requeued_and_a_call_never_told_keeps_its_result() -> None:
    def step(i: int) -> int:
        import os
        import signal

        from clustrix import checkpoint

        if i == 0:
            os.kill(os.getpid(), signal.SIGUSR1)  # the warning arrives during call 0, which never asks
            time.sleep(0.2)
            return 0
        return 1 if checkpoint.stopping() else 2

    futures = cluster(executor="processes", tasks_per_job=3)(step).map([0, 1, 2])
    jobdir = job_dir(futures[0])
    wait_until(lambda: (jobdir / "results" / "0.pkl").exists(), "the result file", DEADLINE)
    outcomes = read_outcomes(jobdir / "results" / "0.pkl")
    assert outcomes[0] == ("ok", 0)
    assert [o[0] for o in outcomes[1:]] == ["requeue", "requeue"]


def test_forged_checkpoint_is_refused_and_never_unpickled(tmp_path: Path) -> None:
    class Boom:
        def __reduce__(self) -> tuple[Any, ...]:
            return (Path.touch, (tmp_path / "unpickled",))

    future = cluster(executor="processes")(steps).submit(5, 0.2)
    assert future.result(timeout=DEADLINE) == 5
    jobdir = job_dir(future)
    body = pickle.dumps(Boom())
    (jobdir / "checkpoints" / "0.pkl").write_bytes(checkpoint.MAGIC + b" " + b"0" * 64 + b"\n" + body)
    ((tag, exc, type_name, message, _),) = next_attempt(jobdir)
    assert tag == "error" and type_name == "clustrix.checkpoint.CheckpointForged"
    assert isinstance(exc, CheckpointForged) and "not signed with this job's key" in message
    assert not (tmp_path / "unpickled").exists()


def test_element_whose_result_exists_is_not_next_attempt() -> None:
    future = cluster(executor="processes")(steps).submit(2, 0.2)
    assert future.result(timeout=DEADLINE) == 2
    jobdir = job_dir(future)
    result = jobdir / "results" / "0.pkl"
    before = result.read_bytes()
    (jobdir / "checkpoints" / "0.pkl").unlink()
    done = subprocess.run([sys.executable, str(jobdir / "runner.py"), str(jobdir), "0"], capture_output=True, text=True)
    assert done.returncode == 0 and "already ran, not run again" in done.stderr
    assert result.read_bytes() == before and not (jobdir / "checkpoints" / "0.pkl").exists()


def test_runner_provides_clustrix_checkpoint_where_clustrix_is_not_installed(tmp_path: Path) -> None:
    """The host has only the standard library and cloudpickle: the staged copy is imported."""
    future = cluster(executor="processes")(steps).submit(3, 0.2)
    assert future.result(timeout=DEADLINE) == 3
    jobdir = job_dir(future)
    (jobdir / "checkpoints" / "0.pkl").unlink()
    import cloudpickle

    site = tmp_path / "site"
    site.mkdir()
    (site / "cloudpickle").symlink_to(Path(cloudpickle.__file__).parent)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(site)}
    probe = subprocess.run([sys.executable, "-S", "-c", "import clustrix"], env=env, capture_output=True)
    assert probe.returncode != 0  # no Clustrix there
    (jobdir / "results" / "0.pkl").rename(jobdir / "results" / "0.pkl.attempt1")
    subprocess.run([sys.executable, "-S", str(jobdir / "runner.py"), str(jobdir), "0"], env=env, check=True)
    assert read_outcomes(jobdir / "results" / "0.pkl") == [("ok", 3)]
    assert saved(jobdir) == 3


def test_capture_requirements_never_asks_the_host_to_install_clustrix() -> None:
    assert not [line for line in captured_requirements(steps) if line.lower().startswith("clustrix")]


def test_cancel_still_ends_a_call_that_ignores_sigterm_at_once() -> None:
    future = cluster(executor="processes")(steps).submit(10_000, 0.2)
    jobdir = job_dir(future)
    wait_until(lambda: (saved(jobdir) or 0) >= 1, "a saved step", DEADLINE)
    assert future.cancel()
    assert wait_for_state(future, lambda s: s.terminal, 10) == State.CANCELLED
    assert not (jobdir / "results" / "0.pkl").exists()


def test_local_time_limit_warns_first_and_the_call_completes_through_retries_from_its_checkpoints(
    tmp_path: Path,
) -> None:
    log = tmp_path / "steps.log"
    future = cluster(executor="processes", time="4s", retries=4)(steps).submit(12, 0.5, str(log))
    assert future.result(timeout=DEADLINE) == 12  # 6 s of work, 3 s per attempt before the warning
    states = [a.state for a in future.attempts]
    assert len(states) >= 2 and states[-1] == "COMPLETED" and set(states[:-1]) == {"TIMEOUT"}
    jobdir = job_dir(future)
    ((tag, reason),) = read_outcomes(jobdir / "results" / Job.set_aside_name(0, 1))
    assert tag == "requeue" and reason.startswith("walltime")  # warned 1 s (a quarter) before the kill
    assert "SIGUSR1: checkpoint.stopping() is now true" in (jobdir / "logs" / "0.err").read_text()
    assert lost_steps(log, 12) <= 1  # each attempt stopped right after a save


def test_stop_warning_is_capped_to_a_quarter_of_the_time_limit_and_zero_turns_it_off(tmp_path: Path) -> None:
    assert lead_time({"time": "8s"}) == 2
    assert lead_time({"time": "02:00:00"}) == lead_time({}) == 60
    assert lead_time({"time": "02:00:00", "stop_warning": 0}) == 0

    def sbatch_lines(**options: Any) -> list[str]:
        settings = {"cluster_type": "slurm", "remote_work_dir": "/scratch/u/.clustrix", **options}
        _, script = lifecycle.render(steps, [((1, 0), {})], settings, tmp_path)
        return [line for line in script.splitlines() if line.startswith("#SBATCH --signal")]

    assert sbatch_lines(time="01:00:00") == ["#SBATCH --signal=B:USR1@60"]
    assert sbatch_lines(time="01:00:00", stop_warning=0) == []


def test_calls_running_in_threads_of_one_process_keep_their_own_checkpoints() -> None:
    futures = cluster(executor="threads", max_workers=2)(steps).map([5, 7], [0.1, 0.1])
    assert [f.result(timeout=DEADLINE) for f in futures] == [5, 7]
    jobdir = job_dir(futures[0])
    assert [saved(jobdir, 0), saved(jobdir, 1)] == [5, 7]
