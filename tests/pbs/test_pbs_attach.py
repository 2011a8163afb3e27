"""A PBS array judged from a process that did not submit it: the same verdict as the submitter's."""

from __future__ import annotations

from typing import Any

from other_process import submit_array_elsewhere

import clustrix


def test_array_attached_from_another_process_returns_every_result(local_pbs: dict[str, Any]) -> None:
    call_ids = submit_array_elsewhere(local_pbs)
    # one call at a time: attaching a job again replaces the futures its watcher serves
    assert [clustrix.attach(call_id).result(timeout=120) for call_id in call_ids] == [0, 1, 2]
