"""Retries through the Kubernetes emulator, whose kubelet enforces a container's memory limit
(RSS over limits.memory -> OOMKilled): memory escalation, each attempt a Job of its own."""

from __future__ import annotations

from typing import Any

from clustrix import cluster
from k8s_emulator.emulator import Emulator

TIMEOUT = 120


def allocate_300mb() -> int:
    block = b"x" * (300 * 10**6)
    return len(block)


def test_pod_over_its_memory_limit_succeeds_on_attempt_2_with_memory_escalated(
    k8s_options: dict[str, Any], k8s_emulator: Emulator
) -> None:
    # keep_files: the final cleanup (which deletes every attempt's Job) must not race the check below
    options = {**k8s_options, "memory": "200MB", "retries": 2, "escalate": {"memory": 2.0}, "keep_files": True}
    future = cluster(**options)(allocate_300mb).submit()
    assert future.result(timeout=TIMEOUT) == 300 * 10**6
    attempts = future.attempts
    assert [(a.attempt, a.state) for a in attempts] == [(1, "OUT_OF_MEMORY"), (2, "COMPLETED")]
    assert [a.resources["memory"] for a in attempts] == ["200MB", "400MB"]
    first, second = (a.native_id or "" for a in attempts)
    assert second == future.native_id and second.endswith(f"{first.rsplit('/', 1)[1]}-a2")
    assert k8s_emulator.job(first.split("/", 1)[1]) is not None, "attempt 1's Job stays for its pod logs"
