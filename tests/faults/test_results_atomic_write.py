"""A result that cannot be written in full is never published, and no temporary file stays.

The short write is real: the writing process runs under a file-size limit
(RLIMIT_FSIZE; Python ignores SIGXFSZ, so the kernel cuts the write short, then refuses).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from clustrix import cluster
from clustrix.outcome import read_outcomes

LIMIT = 4 * 1024 * 1024  # above what the job store and logs need, below the result


def _run_limited(code: str, cwd) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a child Python whose files may not grow past LIMIT bytes."""
    prefix = f"import resource\nresource.setrlimit(resource.RLIMIT_FSIZE, ({LIMIT}, {LIMIT}))\n"
    return subprocess.run(
        [sys.executable, "-c", prefix + textwrap.dedent(code)], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def test_write_atomic_under_a_file_size_limit_raises_and_publishes_nothing(tmp_path):
    done = _run_limited(
        f"""
        from clustrix.runner import write_atomic
        try:
            write_atomic({str(tmp_path / "0.pkl")!r}, b"x" * {4 * LIMIT})
        except OSError as exc:
            print("refused:", exc)
        """,
        tmp_path,
    )
    assert "refused:" in done.stdout, done.stdout + done.stderr
    assert sorted(os.listdir(tmp_path)) == []  # no truncated result, no temporary file


def test_a_job_whose_result_cannot_be_written_fails_saying_so_with_no_partial_result(tmp_path):
    done = _run_limited(
        f"""
        from clustrix import cluster

        @cluster(keep_files=True)
        def big():
            return b"x" * {4 * LIMIT}

        fut = big.submit()
        try:
            fut.result(timeout=120)
        except Exception as exc:
            print("failed:", type(exc).__name__, exc)
        print("jobdir:", fut.job.remote_dir)
        """,
        tmp_path,
    )
    out = done.stdout + done.stderr
    assert "failed:" in done.stdout, out
    assert "could not be written on the execution host" in done.stdout, out
    assert "File too large" in done.stdout, out
    jobdir = done.stdout.split("jobdir: ", 1)[1].strip()
    results = os.listdir(os.path.join(jobdir, "results"))
    assert not [name for name in results if name.endswith(".tmp")]
    # what was published is the small error result, complete and authenticated
    [entry] = read_outcomes(Path(jobdir, "results", "0.pkl"))
    assert entry[0] == "error" and "could not be written" in entry[3]


def test_a_normal_result_round_trips_through_the_checked_write():
    @cluster
    def sized(n):
        return b"y" * n

    assert sized(3 * 1024 * 1024) == b"y" * (3 * 1024 * 1024)
