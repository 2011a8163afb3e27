"""Retries on the ssh backend: each attempt is a new start of the job on the host (its own
launch claim), not the first start reported again."""

from __future__ import annotations

import time
from typing import Any

from clustrix import cluster


def slow(seconds: float) -> str:
    time.sleep(seconds)
    return "done"


def test_call_over_its_time_limit_is_started_again_and_succeeds_with_time_escalated(
    ssh_options: dict[str, Any],
) -> None:
    future = cluster(**ssh_options, time="3s", retries=2, escalate={"time": 4.0})(slow).submit(6)
    assert future.result(timeout=120) == "done"
    attempts = future.attempts
    assert [a.state for a in attempts] == ["TIMEOUT", "COMPLETED"]
    assert attempts[0].native_id != attempts[1].native_id, "the second attempt reported the first start"
