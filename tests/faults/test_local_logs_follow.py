"""`clustrix logs --follow` reads only what was added since its last read, not the whole
log every second: measured as the bytes the following process read (/proc/self/io)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from clustrix import cluster
from clustrix.cli_jobs import LogReader
from clustrix.ssh_transport import SSHTransport
from clustrix.testing import wait_for_output
from infrastructure import LOOPBACK_SSH, require

FILLER_LINES = 48 * 1024  # 48 MiB of 1 KiB lines already in the log when following starts
LINE = b"x" * 1023 + b"\n"

FOLLOW = textwrap.dedent(
    """
    import atexit, runpy, sys

    def bytes_read():
        with open("/proc/self/io") as f:
            rchar = next(line for line in f if line.startswith("rchar:"))
        sys.stderr.write("READ " + rchar.split()[1] + "\\n")

    atexit.register(bytes_read)
    sys.argv = ["clustrix", "logs", sys.argv[1], "--follow", "--stream", "out"]
    runpy.run_module("clustrix", run_name="__main__")
    """
)


@cluster(cluster_type="local")
def chatty_wait(gate: str) -> str:
    import os
    import time

    print("waiting for the gate", flush=True)
    while not os.path.exists(gate):
        time.sleep(0.05)
    print("released", flush=True)
    return "released"


def test_follow_reads_new_bytes_only(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    future = chatty_wait.submit(str(gate))
    follower = None
    try:
        wait_for_output(future, "waiting for the gate", timeout=60, stream="out")
        log = future.job.local_dir / "logs" / "0.out"
        fd = os.open(log, os.O_WRONLY | os.O_APPEND)  # a long log, as a chatty job leaves
        try:
            for _ in range(FILLER_LINES // 1024):
                os.write(fd, LINE * 1024)
        finally:
            os.close(fd)
        size = log.stat().st_size
        follower = subprocess.Popen(
            [sys.executable, "-c", FOLLOW, future.job_id],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
        )
        assert follower.stdout is not None
        first = follower.stdout.read(size)  # everything so far, printed once
        assert first.startswith(b"waiting for the gate\n") and first.endswith(LINE)
        gate.touch()  # the job prints one more line and ends; the follower prints it and exits
        rest, err = follower.communicate(timeout=120)
    finally:
        gate.touch()
        if follower is not None and follower.poll() is None:
            follower.kill()
    assert follower.returncode == 0, err
    assert rest == b"released\n"
    read = int(err.decode().rsplit("READ ", 1)[1].split()[0])
    # one full read of the log, plus Python's own imports (~5 MiB); a second full read fails this
    assert read < 2 * size, f"the follower read {read} bytes for a {size}-byte log"
    assert future.result(timeout=60) == "released"


def test_log_reader_over_ssh_returns_only_the_bytes_past_its_offset() -> None:
    """The same reader through a remote transport (the real sshd on loopback): one command
    per read, printing only the bytes past the offset; a log cut shorter is followed from its end."""
    require("ssh")
    transport = SSHTransport.for_settings(LOOPBACK_SSH)
    try:
        path = f"{transport.home()}/.clustrix-test-log-{os.getpid()}"
        transport.run(["sh", "-c", 'printf "first line\\nsecond " > "$1"', "sh", path]).check()
        reader = LogReader(transport, path)
        assert reader.read_new() == "first line\nsecond "
        assert reader.read_new() == ""
        transport.run(["sh", "-c", 'printf "half\\nthird é\\n" >> "$1"', "sh", path]).check()
        assert reader.read_new() == "half\nthird é\n"
        transport.run(["sh", "-c", 'printf "cut\\n" > "$1"', "sh", path]).check()
        assert reader.read_new() == "" and reader.rewound
        transport.run(["sh", "-c", 'printf "after the cut\\n" >> "$1"', "sh", path]).check()
        assert reader.read_new() == "after the cut\n"
        assert LogReader(transport, path + ".missing").read_new() is None
    finally:
        transport.run(["rm", "-f", "--", path])
        transport.close()
