"""Pod-level failures come back as typed errors, through the real client and the emulator."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from clustrix import cluster
from clustrix.errors import JobOutOfMemory, JobPreempted, JobTimeout, SubmissionRejected
from clustrix.job import State
from clustrix.testing import wait_for_state
from k8s_emulator import Emulator

TIMEOUT = 60


def job_name(future: Any) -> str:
    return future.native_id.split("/", 1)[1]


def test_pod_over_its_memory_limit_raises_job_out_of_memory(
    k8s_options: dict[str, Any], k8s_emulator: Emulator
) -> None:
    @cluster(**k8s_options, memory="100Mi")
    def hog() -> int:
        block = b"x" * (400 * 2**20)
        return len(block)

    future = hog.submit()
    with pytest.raises(JobOutOfMemory, match="OOMKilled"):
        future.result(timeout=TIMEOUT)
    assert k8s_emulator.job(job_name(future)) is not None, "a failed Job stays for its pod logs until its TTL"
    assert k8s_emulator.store.list("secrets", "default") == [], "its payload Secret goes once the job ended"


def test_pod_past_its_time_limit_raises_job_timeout(k8s_options: dict[str, Any]) -> None:
    @cluster(**k8s_options, time="2s")
    def nap() -> str:
        import time

        time.sleep(120)
        return "woke up"

    with pytest.raises(JobTimeout, match="time limit"):
        nap.submit().result(timeout=TIMEOUT)


def test_unpullable_image_fails_fast_and_deletes_the_job(k8s_options: dict[str, Any], k8s_emulator: Emulator) -> None:
    @cluster(**{**k8s_options, "k8s_image": "registry.example/does-not-exist:1.0"})
    def anything() -> int:
        return 1

    future = anything.submit()
    with pytest.raises(SubmissionRejected) as info:
        future.result(timeout=TIMEOUT)
    message = str(info.value)
    assert "ErrImagePull" in message or "ImagePullBackOff" in message
    assert "does-not-exist" in message and "k8s_image" in message
    assert k8s_emulator.job(job_name(future)) is None, "a Job whose image cannot be pulled must not linger"
    assert k8s_emulator.store.list("secrets", "default") == []


def test_evicted_pod_raises_job_preempted(k8s_options: dict[str, Any], k8s_emulator: Emulator) -> None:
    @cluster(**k8s_options, stop_warning=1)  # the grace period after SIGTERM, which nap ignores
    def nap() -> str:
        import time

        time.sleep(120)
        return "woke up"

    future = nap.submit()
    wait_for_state(future, lambda s: s == State.RUNNING, TIMEOUT)
    (pod,) = k8s_emulator.pods(job_name(future))
    k8s_emulator.evict(pod["metadata"]["name"])
    with pytest.raises(JobPreempted, match="Evicted"):
        future.result(timeout=TIMEOUT)


def test_result_arrives_although_the_api_server_was_briefly_unreachable(
    k8s_options: dict[str, Any], k8s_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    @cluster(**k8s_options)
    def slow_square(x: int) -> int:
        import time

        time.sleep(2)
        return x * x

    future = slow_square.submit(12)
    wait_for_state(future, lambda s: s == State.RUNNING, TIMEOUT)
    with caplog.at_level(logging.WARNING, logger="clustrix.watcher"), k8s_emulator.unreachable():
        deadline = time.monotonic() + TIMEOUT
        while "status poll for k8s failed" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.1)
    assert "status poll for k8s failed" in caplog.text, "the outage should have been seen by the watcher"
    assert future.result(timeout=TIMEOUT) == 144


def test_one_failed_pod_of_a_map_fails_the_unfinished_elements_with_the_reason(
    k8s_options: dict[str, Any],
) -> None:
    @cluster(**k8s_options, memory="100Mi")
    def work(x: int) -> int:
        import time

        if x == 0:
            return len(b"x" * (400 * 2**20))
        time.sleep(120)
        return x

    futures = work.map(range(3))
    with pytest.raises(JobOutOfMemory):
        futures[0].result(timeout=TIMEOUT)
    for future in futures[1:]:
        with pytest.raises(Exception, match="BackoffLimitExceeded"):
            future.result(timeout=TIMEOUT)
