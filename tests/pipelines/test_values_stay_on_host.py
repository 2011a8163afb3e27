"""A same-target chain over SSH moves no intermediate value through the client: the parent's
futures are settled from its signed summary and the child reads the value on the host."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from pipeline_infra import Gate, backend_options
from test_scheduler_pipelines import TIMEOUT

from clustrix import cluster

SIZE = 100 * 1024 * 1024  # a 100 MB intermediate result


def big_after_gate(gate: str) -> bytes:
    while not os.path.exists(gate):
        time.sleep(0.1)
    return b"x" * SIZE


def length(blob: bytes) -> int:
    return len(blob)


@pytest.fixture(params=["slurm-ssh", "ssh"])
def remote_backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    options = backend_options(request.param)
    return {**options, "memory": "1GB"} if "memory" in options else options


def test_intermediate_value_of_a_same_target_chain_never_crosses_the_client(
    remote_backend: dict[str, Any], gate: Gate
) -> None:
    parent = cluster(**remote_backend)(big_after_gate).submit(gate.path)
    child = cluster(**remote_backend)(length).submit(parent)
    transport = parent.target.transport
    before = transport.bytes_received
    gate.open()
    assert child.result(timeout=TIMEOUT) == SIZE
    assert parent.done() and parent.exception() is None
    assert transport.bytes_received - before < 1024 * 1024, "the 100 MB intermediate crossed the client"
    # asked for, the value comes (once), and the parent's job dir may then go
    assert len(parent.result(timeout=TIMEOUT)) == SIZE
    assert transport.bytes_received - before >= SIZE
