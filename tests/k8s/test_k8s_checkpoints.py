"""Retries on Kubernetes that keep what the last attempt did: the checkpoints a pod printed to
its log reach the next attempt's pod (its work volume dies with the pod), a retried map runs
only its retried elements, and a pod stopped with a grace period (eviction) saves and requeues.

The emulator's pods are local processes: they see the test's tmp dir, where the calls log
what they ran.
"""

from __future__ import annotations

import base64
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from attempts import lost_steps, saves_then_allocates_300mb, steps, wait_until

from clustrix import cluster
from clustrix.job import Job
from clustrix.outcome import read_outcomes
from clustrix_k8s import bootstrap
from clustrix_k8s import manifest as m
from clustrix_k8s.results import checkpoints
from k8s_emulator.emulator import Emulator

TIMEOUT = 120
MB = 10**6
INDEX = "batch.kubernetes.io/job-completion-index"
TOTAL, STEP = 40, 0.2  # a call of 8 s that saves every 0.2 s


def first_pod_log(emulator: Emulator, future: Any) -> str:
    """The log of attempt 1's pod (its Job stays: keep_files)."""
    (pod,) = emulator.pods(future.attempts[0].native_id.split("/", 1)[1])
    return (emulator.kubelet.log_dir("default", pod["metadata"]["name"]) / "clustrix.log").read_text()


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
    # a call not retried tells its own end, not that of the attempt another call failed
    assert [futures[0].attempts[0].state, futures[2].attempts[0].state] == ["COMPLETED", "COMPLETED"]
    second = futures[1].native_id.split("/", 1)[1]
    skipped = [p for p in k8s_emulator.pods(second) if p["metadata"]["labels"][INDEX] in ("0", "2")]
    assert len(skipped) == 2 and all(p["status"]["phase"] == "Succeeded" for p in skipped)


def waits_on_its_first_run(x: int, runs: str) -> int:
    """Call 1 needs 300 MB; call 0 waits on its first run (stopped when call 1 fails the Job)."""
    import time

    with open(runs, "a") as f:
        f.write(f"{x}\n")
    if x == 1:
        block = b"x" * (300 * MB)
        return x + len(block) // (100 * MB)
    with open(runs) as f:
        first = f.read().split().count("0") == 1
    while first:
        time.sleep(1)
    return x


def test_element_stopped_because_another_failed_the_job_is_retried_too(
    k8s_options: dict[str, Any], k8s_emulator: Emulator, tmp_path: Path
) -> None:
    runs = tmp_path / "runs.log"
    options = {**k8s_options, "memory": "200MB", "retries": 1, "escalate": {"memory": 2.0}, "stop_warning": 1}
    futures = cluster(**options)(waits_on_its_first_run).map([0, 1], [str(runs)] * 2, tasks_per_job=1)
    assert [f.result(timeout=TIMEOUT) for f in futures] == [0, 1 + 3]
    assert [a.state for a in futures[1].attempts] == ["OUT_OF_MEMORY", "COMPLETED"]
    assert len(futures[0].attempts) == 2


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


# --- the pieces, without a cluster ---------------------------------------------------------------


def record(call: int, data: bytes, job_id: str = "j1") -> bytes:
    return bootstrap.framed(bootstrap.CHECKPOINT_BEGIN, bootstrap.CHECKPOINT_END, f"job={job_id} call={call}", data)


def test_the_last_intact_record_of_each_call_is_kept_and_cut_altered_or_foreign_ones_are_not() -> None:
    cut = record(0, b"third")[:-30]  # the log rotated or the pod died mid-record
    altered = record(1, b"late").replace(base64.encodebytes(b"late"), base64.encodebytes(b"LATE"))
    log = b"output\n" + record(0, b"first") + record(1, b"one") + record(0, b"second") + altered + cut
    log += record(2, b"other call") + record(0, b"other job", job_id="j2")
    assert checkpoints(log, "j1", range(0, 2)) == {0: b"second", 1: b"one"}


def test_each_save_is_written_and_printed_and_one_too_big_for_a_secret_stays_in_the_pod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLUSTRIX_MAX_CHECKPOINT_BYTES", "100")
    written: dict[str, bytes] = {}
    out = tmp_path / "pod.log"
    with out.open("wb") as f:
        write = bootstrap.checkpoint_printer("j1", written.__setitem__, f.fileno())
        write("/work/jobs/j1/checkpoints/4.pkl", b"small")
        write("/work/jobs/j1/checkpoints/5.pkl", b"x" * 101)
    assert written == {"/work/jobs/j1/checkpoints/4.pkl": b"small", "/work/jobs/j1/checkpoints/5.pkl": b"x" * 101}
    assert checkpoints(out.read_bytes(), "j1", range(4, 6)) == {4: b"small"}
    assert "the checkpoint of call 5 is 101 bytes" in capsys.readouterr().err


def test_next_payload_ships_the_checkpoints_of_calls_to_run_again_and_skips_elements_with_results(
    make_job: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    job = make_job(n_calls=3)
    (job.local_dir / "checkpoints").mkdir()
    for call, size in ((0, 10), (1, 10), (2, m.MAX_PAYLOAD_BYTES)):
        (job.local_dir / "checkpoints" / f"{call}.pkl").write_bytes(b"c" * size)
    job.result_path(0).write_bytes(b"attempt 1's result of element 0")
    job.attempt = 2
    files = m.payload(job, tmp_path / "blobs")
    assert json.loads(files[m.SKIP]) == [0]
    assert {k for k in files if k.startswith(m.CHECKPOINT_KEY)} == {"ckpt.1.pkl", "ckpt.2.pkl"}
    with caplog.at_level(logging.WARNING, logger="clustrix.k8s"):
        m.fit_checkpoints(job, files)  # call 2's checkpoint does not fit: left out, the attempt still goes
    m.check_payload_size(job, files)
    assert {k for k in files if k.startswith(m.CHECKPOINT_KEY)} == {"ckpt.1.pkl"}
    assert "checkpoints of calls 2 do not fit" in caplog.text


def test_the_pods_grace_period_is_stop_warning(make_job: Any) -> None:
    def grace(**settings: Any) -> int:
        return m.job_manifest(make_job(**settings), "name")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]

    assert grace() == 60 and grace(stop_warning=10) == 10 and grace(stop_warning=0) == 0
    assert grace(time="8s") == 2  # at most a quarter of the time limit


def test_saves_are_printed_to_the_pod_log_only_when_a_retry_can_use_them(make_job: Any) -> None:
    def printed(**settings: Any) -> str:
        (container,) = m.job_manifest(make_job(**settings), "name")["spec"]["template"]["spec"]["containers"]
        return next(e["value"] for e in container["env"] if e["name"] == "CLUSTRIX_MAX_CHECKPOINT_BYTES")

    assert printed() == "0" and printed(retries=2) == str(m.MAX_PAYLOAD_BYTES)
