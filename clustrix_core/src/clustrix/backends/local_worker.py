"""The local backend's worker: ``python -m clustrix.backends.local_worker JOBDIR``.

Runs every element of the job with the local parallel executor (threads or processes,
chosen by the hook chain in the submitting process: CLUSTRIX_EXECUTOR_MODE), each element's stdout/stderr in ``logs/E.out|err``. With a
``time`` limit it stops the whole process group when the limit passes and leaves a
``status/timeout`` marker.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from .. import runner
from ..executor import LocalExecutor
from ..quantities import parse_time


def run_element_logged(jobdir: str, element: int, redirect: bool) -> None:
    if not redirect:
        runner.run_element(jobdir, element)
        return
    saved = os.dup(1), os.dup(2)
    sys.stdout.flush()
    sys.stderr.flush()
    with (
        open(os.path.join(jobdir, "logs", f"{element}.out"), "ab") as out,
        open(os.path.join(jobdir, "logs", f"{element}.err"), "ab") as err,
    ):
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            runner.run_element(jobdir, element)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _time_limit(jobdir: str, seconds: int) -> None:
    def expire() -> None:
        open(os.path.join(jobdir, "status", "timeout"), "w").close()
        os.killpg(os.getpgid(0), signal.SIGKILL)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


def main(jobdir: str) -> int:
    settings = json.loads(os.environ.get("CLUSTRIX_JOB_SETTINGS") or "{}")
    with open(os.path.join(jobdir, "status", "worker.json"), "w") as f:
        start = Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()[19]
        json.dump({"pid": os.getpid(), "start_time": start}, f)
    if settings.get("time"):
        _time_limit(jobdir, parse_time(settings["time"]))
    sys.path.insert(0, os.getcwd())
    with open(os.path.join(jobdir, "manifest.json")) as f:
        manifest = json.load(f)
    n_elements = len(manifest["elements"])
    if n_elements == 1:
        run_element_logged(jobdir, 0, redirect=True)
        return 0
    mode = os.environ.get("CLUSTRIX_EXECUTOR_MODE", "processes")
    executor = LocalExecutor(max_workers=settings.get("max_workers"), mode=mode)
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((jobdir, e, mode == "processes"), {}) for e in range(n_elements)
    ]
    executor.run_calls(run_element_logged, calls, chunk_size=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(os.path.abspath(sys.argv[1])))
