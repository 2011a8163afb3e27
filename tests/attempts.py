"""Checkpoint tests' helpers: read a call's checkpoint, play the next attempt of an element.

The next attempt is what the client does when it resubmits an element: the first attempt's
result file is moved aside and the runner runs again in the same job dir, where the call's
checkpoint is.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clustrix import checkpoint
from clustrix.outcome import read_outcomes


def steps(total: int, seconds: float, log: str = "") -> int:
    """Counts to ``total``, one step per ``seconds``, saving each; returns -1 when told to stop.

    Every step it runs is appended to ``log`` (if given), across attempts: the steps run
    more than once are the work a stop lost.
    """
    import time

    from clustrix import checkpoint

    done = checkpoint.load(default=0)
    while done < total:
        time.sleep(seconds)
        done += 1
        checkpoint.save(done)
        if log:
            with open(log, "a") as f:
                f.write(f"{done}\n")
        if checkpoint.stopping():
            return -1
    return done


def saves_then_allocates_300mb(log: str) -> int:
    """Saves steps 1-3 (each appended to ``log``), then needs 300 MB: killed for it with a
    200 MB limit; the next attempt resumes at step 3 and, given more memory, returns 6."""
    from clustrix import checkpoint

    done = checkpoint.load(default=0)
    while done < 3:
        done += 1
        checkpoint.save(done)
        with open(log, "a") as f:
            f.write(f"{done}\n")
    block = b"x" * (300 * 10**6)
    return done + len(block) // (100 * 10**6)


def wait_until(condition: Callable[[], Any], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def saved(jobdir: Path, call: int = 0) -> Any:
    """What the call last saved (None if nothing), read as load() reads it: signature first."""
    path = jobdir / "checkpoints" / f"{call}.pkl"
    if not path.exists():
        return None
    checkpoint.enter(str(path), (jobdir / "key").read_bytes(), lambda p, d: None)
    try:
        return checkpoint.load()
    finally:
        checkpoint.leave()


def next_attempt(jobdir: Path, element: int = 0) -> list[tuple[Any, ...]]:
    """Run the element again after setting its result aside; its new outcomes."""
    result = jobdir / "results" / f"{element}.pkl"
    result.rename(jobdir / "results" / f"{element}.pkl.attempt1")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    subprocess.run([sys.executable, str(jobdir / "runner.py"), str(jobdir), str(element)], check=True, env=env)
    return read_outcomes(result)


def lost_steps(log: Path, total: int) -> int:
    """Steps run more than once across the attempts (each one ``seconds`` of lost work)."""
    return len(log.read_text().split()) - total
