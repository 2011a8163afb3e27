"""A function that exits or is interrupted on the execution host never ends the caller.

``SystemExit``, ``KeyboardInterrupt`` and ``GeneratorExit`` raised remotely come back as
``JobFailed`` subclasses (``RemoteSystemExit`` carries the exit code), so ``except
Exception`` catches them and the caller's process goes on.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from clustrix import cluster
from clustrix.errors import JobFailed

CALLER = textwrap.dedent(
    """
    from clustrix import cluster

    @cluster
    def leave(code):
        import sys
        sys.exit(code)

    for code in (3, 0):
        try:
            leave(code)
        except Exception as exc:
            print("caught", type(exc).__name__, getattr(exc, "exit_code", None), flush=True)
    print("caller still running", flush=True)
    """
)


def test_remote_sys_exit_3_and_0_raise_RemoteSystemExit_and_the_caller_keeps_running(tmp_path):
    script = tmp_path / "caller.py"
    script.write_text(CALLER)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "caught RemoteSystemExit 3",
        "caught RemoteSystemExit 0",
        "caller still running",
    ]


@pytest.mark.parametrize(
    ("raised", "typed"),
    [("KeyboardInterrupt", "RemoteKeyboardInterrupt"), ("GeneratorExit", "RemoteGeneratorExit")],
)
def test_remote_keyboard_interrupt_and_generator_exit_are_typed_job_failures(raised, typed):
    @cluster
    def interrupted(name):
        import builtins

        raise getattr(builtins, name)("raised on the execution host")

    with pytest.raises(JobFailed) as info:
        interrupted(raised)
    assert type(info.value).__name__ == typed
    assert isinstance(info.value, Exception)
    assert raised in str(info.value)
    assert any("raised on the execution host" in note for note in info.value.__notes__)  # remote traceback kept
