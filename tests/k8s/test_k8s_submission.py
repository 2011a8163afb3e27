"""Submitting, watching, cancelling and cleaning up against the emulator's API rules."""

from __future__ import annotations

import time
from typing import Any

import pytest

from clustrix import cluster
from clustrix.errors import ConfigError, JobFailed, SubmissionRejected
from clustrix.hookspecs import hookimpl
from clustrix.job import State
from clustrix.plugins import manager
from clustrix.testing import wait_for_state
from k8s_emulator import Emulator

TIMEOUT = 60


def job_name(future: Any) -> str:
    return future.native_id.split("/", 1)[1]


def eventually(check: Any, timeout: float = TIMEOUT) -> bool:
    """Poll ``check`` until it holds (cleanup runs in the watcher just after the result)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def secrets(emu: Emulator) -> list[str]:
    return [s["metadata"]["name"] for s in emu.store.list("secrets", "default")]


def test_function_with_a_very_long_name_runs(k8s_options: dict[str, Any], k8s_emulator: Emulator) -> None:
    @cluster(**k8s_options, memory="256MB", cores=1, cpu_limit=2)
    def a_function_whose_name_is_much_longer_than_the_sixty_three_characters_a_kubernetes_label_allows(
        x: int,
    ) -> int:
        return x + 1

    future = a_function_whose_name_is_much_longer_than_the_sixty_three_characters_a_kubernetes_label_allows.submit(1)
    assert future.result(timeout=TIMEOUT) == 2
    assert future.native_id.startswith("default/clustrix-")


def test_manifest_the_api_refuses_is_rejected_and_leaves_nothing(
    k8s_options: dict[str, Any], k8s_emulator: Emulator
) -> None:
    @cluster(**k8s_options, cores=4, cpu_limit=1)
    def anything() -> int:
        return 1

    with pytest.raises(SubmissionRejected, match=r"the Job was refused: .*cpu"):
        anything.submit()
    assert k8s_emulator.store.list("jobs", "default") == []
    assert secrets(k8s_emulator) == []


def test_invalid_label_is_rejected_before_any_job_exists(k8s_options: dict[str, Any], k8s_emulator: Emulator) -> None:
    @cluster(**k8s_options, k8s_labels={"not a valid key!": "x"})
    def anything() -> int:
        return 1

    with pytest.raises(SubmissionRejected, match="not a valid key"):
        anything.submit()
    assert k8s_emulator.store.list("jobs", "default") == []


def test_payload_over_the_object_limit_is_refused_before_anything_is_created(
    k8s_options: dict[str, Any], k8s_emulator: Emulator
) -> None:
    @cluster(**k8s_options)
    def size(data: bytes) -> int:
        return len(data)

    k8s_emulator.clear_requests()
    with pytest.raises(SubmissionRejected) as info:
        size.submit(b"\0" * (2 * 2**20))
    assert "1048576" in str(info.value) and "PersistentVolumeClaim" in str(info.value)
    assert not [r for r in k8s_emulator.requests if r.verb == "create"]


class CountStatusCalls:
    """Hookwrapper: how many jobs each status call for this emulator asked about."""

    def __init__(self, emu: Emulator) -> None:
        self.kubeconfig = str(emu.kubeconfig)
        self.calls: list[int] = []

    @hookimpl(wrapper=True)
    def clustrix_status(self, jobs: Any, target: Any) -> Any:
        if jobs and jobs[0].settings.get("kubeconfig") == self.kubeconfig:
            self.calls.append(len(jobs))
        return (yield)


def test_status_costs_two_list_calls_per_cycle_whatever_the_number_of_jobs(
    k8s_options: dict[str, Any], k8s_emulator: Emulator
) -> None:
    @cluster(**k8s_options)
    def nap(x: int) -> int:
        import time

        time.sleep(1)
        return x

    spy = CountStatusCalls(k8s_emulator)
    manager().pm.register(spy, name="k8s-status-counter")
    try:
        futures = [nap.submit(i) for i in range(5)]
        assert [f.result(timeout=TIMEOUT) for f in futures] == list(range(5))
        assert max(spy.calls) == 5

        def one_list_each_per_status_call() -> bool:
            # the emulator records a request just after answering it: compare once they have landed
            calls = len(spy.calls)
            return (k8s_emulator.count("list", "jobs"), k8s_emulator.count("list", "pods")) == (calls, calls)

        assert eventually(one_list_each_per_status_call, timeout=10), (
            len(spy.calls),
            k8s_emulator.request_counts(),
        )
    finally:
        manager().pm.unregister(name="k8s-status-counter")


def test_cancel_deletes_the_job_its_pods_and_its_secret(k8s_options: dict[str, Any], k8s_emulator: Emulator) -> None:
    @cluster(**k8s_options)
    def nap() -> None:
        import time

        time.sleep(120)

    future = nap.submit()
    wait_for_state(future, lambda s: s == State.RUNNING, TIMEOUT)
    name = job_name(future)
    assert future.cancel()
    assert wait_for_state(future, lambda s: s.terminal, TIMEOUT) == State.CANCELLED
    assert k8s_emulator.job(name) is None
    assert k8s_emulator.pods(name) == []
    assert name not in secrets(k8s_emulator)


def test_success_removes_job_and_secret_unless_keep_files(k8s_options: dict[str, Any], k8s_emulator: Emulator) -> None:
    @cluster(**k8s_options)
    def one() -> int:
        return 1

    @cluster(**k8s_options, keep_files=True)
    def two() -> int:
        return 2

    removed, kept = one.submit(), two.submit()
    assert (removed.result(timeout=TIMEOUT), kept.result(timeout=TIMEOUT)) == (1, 2)
    gone = eventually(lambda: k8s_emulator.job(job_name(removed)) is None)
    assert gone and job_name(removed) not in secrets(k8s_emulator)
    job = k8s_emulator.job(job_name(kept))
    assert job is not None and job_name(kept) in secrets(k8s_emulator)
    (secret,) = [s for s in k8s_emulator.store.list("secrets", "default") if s["metadata"]["name"] == job_name(kept)]
    owners = secret["metadata"].get("ownerReferences") or []
    assert [o["uid"] for o in owners] == [job["metadata"]["uid"]], "the Job owns its Secret (deleted with it)"


def test_result_of_several_megabytes_comes_back_intact(k8s_options: dict[str, Any]) -> None:
    @cluster(**k8s_options)
    def noise(n: int) -> tuple[bytes, str]:
        import hashlib
        import os

        data = os.urandom(n)
        return data, hashlib.sha256(data).hexdigest()

    data, digest = noise.submit(3 * 2**20).result(timeout=TIMEOUT)
    import hashlib

    assert len(data) == 3 * 2**20 and hashlib.sha256(data).hexdigest() == digest


def test_result_over_the_log_limit_fails_with_a_clear_message(k8s_options: dict[str, Any]) -> None:
    @cluster(**k8s_options, k8s_max_result_bytes=10_000)
    def big() -> bytes:
        return b"y" * 50_000

    with pytest.raises(JobFailed, match="k8s_max_result_bytes=10000"):
        big.submit().result(timeout=TIMEOUT)


def test_kubeconfig_from_the_environment_and_context_selection(
    k8s_options: dict[str, Any], k8s_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = {k: v for k, v in k8s_options.items() if k != "kubeconfig"}
    monkeypatch.setenv("KUBECONFIG", str(k8s_emulator.kubeconfig))

    @cluster(**options)
    def double(x: int) -> int:
        return 2 * x

    assert double.submit(21).result(timeout=TIMEOUT) == 42

    @cluster(**{**options, "k8s_context": "no-such-context"})
    def never() -> None:
        return None

    with pytest.raises(ConfigError, match=r"no-such-context.*clustrix-test"):
        never.submit()


def test_env_and_setup_lines_run_in_the_pod(k8s_options: dict[str, Any]) -> None:
    @cluster(**k8s_options, env={"GREETING": "hello"}, setup=["export SUBJECT=world"])
    def greet() -> str:
        import os

        return f"{os.environ['GREETING']} {os.environ['SUBJECT']}"

    assert greet.submit().result(timeout=TIMEOUT) == "hello world"
