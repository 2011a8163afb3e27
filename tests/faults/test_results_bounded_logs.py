"""Endless output cannot fill the disk: a job's stdout and stderr files are bounded.

Each stream keeps its first and last bytes within ``max_log_bytes`` (default 10 MiB) and
says how many bytes were dropped between them. The bound holds for Python's print, for
C-level writes to the file descriptors and for child processes, because the runner
re-points fds 1 and 2 at pipes it drains into the bounded files.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clustrix import cluster
from infrastructure import LOOPBACK_SSH, require

MIB = 1024 * 1024
DROPPED = re.compile(rb"\n\[clustrix: (\d+) bytes of output dropped here[^\]\n]*\]\n")


def flood(total: int) -> int:
    """Sent by value: writes about ``total`` bytes to stdout in three ways (print, os.write
    on fd 1, a child process) between a first and a last line; returns the exact count."""
    import os
    import subprocess
    import sys

    print("FIRST LINE", flush=True)
    line = "x" * 1023 + "\n"
    third = total // 3
    for _ in range(third // 1024):
        sys.stdout.write(line)
    sys.stdout.flush()
    block = b"y" * 1023 + b"\n"
    for _ in range(third // 1024):
        os.write(1, block)
    subprocess.run(["head", "-c", str(third), "/dev/zero"], check=True)
    print("\nLAST LINE", flush=True)
    print("stderr is bounded too", file=sys.stderr, flush=True)
    return len("FIRST LINE\n") + 2 * (third // 1024) * 1024 + third + len("\nLAST LINE\n")


def _check_bounded(path: Path, limit: int, written: int) -> None:
    data = path.read_bytes()
    assert len(data) <= limit + 200, f"{path} holds {len(data)} bytes, over max_log_bytes={limit}"
    assert data.startswith(b"FIRST LINE\n")
    assert data.rstrip().endswith(b"LAST LINE")
    [marker] = DROPPED.finditer(data)
    assert int(marker.group(1)) + len(data) - len(marker.group(0)) == written  # each byte kept or counted


def test_endless_output_on_the_local_backend_is_bounded_by_the_default_limit():
    total = 30 * MIB

    @cluster(keep_files=True)
    def noisy():
        return flood(total)

    future = noisy.submit()
    written = future.result(timeout=300)
    _check_bounded(future.job.log_path(0, "out"), 10 * MIB, written)
    assert b"stderr is bounded too" in future.job.log_path(0, "err").read_bytes()


def test_configured_limit_keeps_head_and_tail_and_says_what_was_dropped():
    limit, total = 200_000, 3 * MIB

    @cluster(keep_files=True, max_log_bytes=limit)
    def noisy():
        return flood(total)

    future = noisy.submit()
    written = future.result(timeout=300)
    _check_bounded(future.job.log_path(0, "out"), limit, written)


@pytest.mark.parametrize("backend", ["ssh", "slurm"])
def test_output_is_bounded_on_remote_and_batch_backends(backend, tmp_path):
    require(backend)
    limit, total = 200_000, 3 * MIB
    options = (
        {"cluster_type": "ssh", **LOOPBACK_SSH} if backend == "ssh" else {"cluster_type": "slurm", "memory": "256MB"}
    )

    @cluster(**options, keep_files=True, max_log_bytes=limit)
    def noisy():
        return flood(total)

    future = noisy.submit()
    written = future.result(timeout=300)
    local = tmp_path / "0.out"
    text = future.target.transport.read_text(f"{future.job.remote_dir}/logs/0.out")
    assert text is not None
    local.write_bytes(text.encode())
    _check_bounded(local, limit, written)
