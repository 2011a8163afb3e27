"""Retries on Kubernetes that keep what the last attempt did: the checkpoints a pod printed to
its log reach the next attempt's pod (its work volume dies with the pod), a retried map runs
only its retried elements, and a pod stopped with a grace period (eviction) saves and requeues.

The emulator's pods are local processes: they see the test's tmp dir, where the calls log
what they ran.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from attempts import lost_steps, steps, wait_until

from clustrix import cluster
from clustrix.job import Job
from clustrix.outcome import read_outcomes
from k8s_emulator.emulator import Emulator

TIMEOUT = 120
MB = 10**6
INDEX = "batch.kubernetes.io/job-completion-index"
TOTAL, STEP = 40, 0.2  # a call of 8 s that saves every 0.2 s


def first_pod_log(emulator: Emulator, future: Any) -> str:
    """The log of attempt 1's pod (its Job stays: keep_files)."""
    (pod,) = emulator.pods(future.attempts[0].native_id.split("/", 1)[1])
    return (emulator.kubelet.log_dir("default", pod["metadata"]["name"]) / "clustrix.log").read_text()


def saves_then_allocates_300mb(log: str) -> int:
    """Saves steps 1-3 (each logged), then needs 300 MB: killed for it with a 200 MB limit."""
    from clustrix import checkpoint

    done = checkpoint.load(default=0)
    while done < 3:
        done += 1
        checkpoint.save(done)
        with open(log, "a") as f:
            f.write(f"{done}\n")
    block = b"x" * (300 * MB)
    return done + len(block) // (100 * MB)


def test_pod_killed_for_memory_resumes_from_its_last_save_on_the_next_attempt(
    k8s_options: dict[str, Any], k8s_emulator: Emulator, tmp_path: Path
) -> None:
    log = tmp_path / "steps.log"
    options = {**k8s_options, "memory": "200MB", "retries": 1, "escalate": {"memory": 2.0}}
    future = cluster(**options)(saves_then_allocates_300mb).submit(str(log))
    assert future.result(timeout=TIMEOUT) == 3 + 3
    assert [a.state for a in future.attempts] == ["OUT_OF_MEMORY", "COMPLETED"]
    assert log.read_text().split() == ["1", "2", "3"], "attempt 2 ran steps the OOM-killed attempt 1 had saved"
    print(f"OOM-killed after 3 saved steps; attempts: 2; work lost: {len(log.read_text().split()) - 3} steps")


def runs_once_per_attempt(x: int, runs: str, go: str) -> int:
    """Logs that it ran; call 1 then waits for ``go`` and needs 300 MB."""
    import os
    import time

    with open(runs, "a") as f:
        f.write(f"{x}\n")
    if x != 1:
        return x
    while not os.path.exists(go):
        time.sleep(0.05)
    block = b"x" * (300 * MB)
    return x + len(block) // (100 * MB)


def test_retried_map_reruns_only_the_element_killed_for_memory(
    k8s_options: dict[str, Any], k8s_emulator: Emulator, tmp_path: Path
) -> None:
    runs, go = tmp_path / "runs.log", tmp_path / "go"
    options = {**k8s_options, "memory": "200MB", "retries": 1, "escalate": {"memory": 2.0}, "keep_files": True}
    futures = cluster(**options)(runs_once_per_attempt).map([0, 1, 2], [str(runs)] * 3, [str(go)] * 3, tasks_per_job=1)
    # calls 0 and 2 end first: call 1's OOM kill fails the Job (backoffLimit 0), which stops pods still running
    assert [futures[0].result(timeout=TIMEOUT), futures[2].result(timeout=TIMEOUT)] == [0, 2]
    go.touch()
    assert futures[1].result(timeout=TIMEOUT) == 1 + 3
    assert Counter(runs.read_text().split()) == {"0": 1, "1": 2, "2": 1}
    assert [a.state for a in futures[1].attempts] == ["OUT_OF_MEMORY", "COMPLETED"]
    assert [len(f.attempts) for f in futures] == [1, 2, 1]
    second = futures[1].native_id.split("/", 1)[1]
    skipped = [p for p in k8s_emulator.pods(second) if p["metadata"]["labels"][INDEX] in ("0", "2")]
    assert len(skipped) == 2 and all(p["status"]["phase"] == "Succeeded" for p in skipped)


def test_evicted_pod_saves_on_sigterm_within_its_grace_period_and_the_retry_resumes(
    k8s_options: dict[str, Any], k8s_emulator: Emulator, tmp_path: Path
) -> None:
    log = tmp_path / "steps.log"
    options = {**k8s_options, "retries": 2, "stop_warning": 10, "keep_files": True}
    future = cluster(**options)(steps).submit(TOTAL, STEP, str(log))
    wait_until(lambda: log.exists() and len(log.read_text().split()) >= 10, "ten saved steps", TIMEOUT)
    (pod,) = k8s_emulator.pods(future.native_id.split("/", 1)[1])
    assert pod["spec"]["terminationGracePeriodSeconds"] == 10  # stop_warning
    before = len(log.read_text().split())
    k8s_emulator.evict(pod["metadata"]["name"])
    assert future.result(timeout=TIMEOUT) == TOTAL
    assert [a.state for a in future.attempts] == ["PREEMPTED", "COMPLETED"]
    ((tag, reason),) = read_outcomes(future.job.local_dir / "results" / Job.set_aside_name(0, 1))
    assert tag == "requeue" and reason.startswith("terminated"), reason  # it saved and returned after SIGTERM
    assert "SIGTERM: checkpoint.stopping() is now true" in first_pod_log(k8s_emulator, future)
    lost = lost_steps(log, TOTAL)
    print(f"evicted after {before} of {TOTAL} steps; attempts: 2; work lost: {lost} steps of {STEP} s")
    assert lost * STEP <= STEP + 1.0  # the checkpoint interval + 1 s


def test_pod_past_its_deadline_saves_on_sigterm_and_is_retried_as_a_timeout_with_more_time(
    k8s_options: dict[str, Any], k8s_emulator: Emulator, tmp_path: Path
) -> None:
    log = tmp_path / "steps.log"
    # 50 steps of 0.2 s do not fit in 8 s; the grace period is a quarter of it (stop_warning's cap)
    options = {**k8s_options, "time": "8s", "retries": 1, "escalate": {"time": 2.0}, "keep_files": True}
    future = cluster(**options)(steps).submit(50, STEP, str(log))
    assert future.result(timeout=TIMEOUT) == 50
    assert [(a.state, a.resources["time"]) for a in future.attempts] == [("TIMEOUT", "8s"), ("COMPLETED", "00:00:16")]
    ((tag, reason),) = read_outcomes(future.job.local_dir / "results" / Job.set_aside_name(0, 1))
    assert tag == "requeue" and reason.startswith("terminated"), reason
    first = first_pod_log(k8s_emulator, future)
    assert "SIGTERM: checkpoint.stopping() is now true" in first
    lost = lost_steps(log, 50)
    saves = first.count("==== CLUSTRIX CHECKPOINT BEGIN")
    print(f"attempt 1 stopped at its deadline after {saves} of 50 saved steps; attempts: 2; work lost: {lost} steps")
    assert lost * STEP <= STEP + 1.0
