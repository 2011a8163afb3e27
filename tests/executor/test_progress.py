"""Progress bars: a terminal bar on a TTY, nothing when the output is not interactive."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("tqdm")

SCRIPT = textwrap.dedent(
    """
    import clustrix

    def square(x):
        return x * x

    with clustrix.Executor() as pool:
        assert list(pool.map(square, range(6), progress=True)) == [x * x for x in range(6)]
        futures = [pool.submit(square, 3), pool.submit(divmod, 1, 0)]
        done, not_done = clustrix.wait(futures, progress=True)
        assert len(done) == 2 and not not_done
    @clustrix.cluster
    def cube(x):
        return x**3

    futures = cube.map(range(3), progress=True)
    clustrix.wait(futures)
    assert [f.result() for f in futures] == [0, 1, 8]
    print("FINISHED")
    """
)


def run_in(tmp_path: Path, tty: bool) -> str:
    script = tmp_path / "bars.py"
    script.write_text(SCRIPT)
    env = dict(os.environ)
    if not tty:
        done = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
        return done.stdout + done.stderr
    return terminal([sys.executable, str(script)], tmp_path)


def terminal(argv: list[str], cwd: Path, on_output: Callable[[str], None] | None = None) -> str:
    """Run ``argv`` on a 100-column pseudo-terminal; what it wrote there (``on_output`` sees it as it comes)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(argv, stdout=follower, stderr=follower, stdin=follower, env=dict(os.environ), cwd=cwd)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
        if on_output is not None:
            on_output(b"".join(chunks).decode(errors="replace"))
    output = b"".join(chunks).decode(errors="replace")
    assert process.wait(timeout=120) == 0, output
    os.close(leader)
    return output


def test_a_terminal_shows_a_bar_counting_calls_and_failures(tmp_path: Path) -> None:
    output = run_in(tmp_path, tty=True)
    assert "FINISHED" in output
    assert "6/6" in output and "call" in output
    assert "2/2" in output and "failed=1" in output
    assert "cube" in output and "3/3" in output  # the decorator's map(progress=True)


def test_output_that_is_not_interactive_gets_no_bar(tmp_path: Path) -> None:
    output = run_in(tmp_path, tty=False)
    assert output.strip() == "FINISHED"


def test_wait_without_progress_is_concurrent_futures_wait() -> None:
    import clustrix

    with clustrix.Executor() as pool:
        futures = [pool.submit(abs, -1), pool.submit(abs, -2)]
        done, not_done = clustrix.wait(futures, timeout=120)
    assert done == set(futures) and not not_done
