"""An element whose process is killed mid-call on the SSH host runs once more: no call is lost."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from claims import started

from clustrix import cluster


def test_element_killed_mid_call_runs_once_more_and_reports_once(ssh_options: dict[str, Any]) -> None:
    shared = Path(tempfile.mkdtemp(prefix="clustrix-killed-"))
    shared.chmod(0o777)  # the job runs as the test user
    log = shared / "started"
    try:

        @cluster(**ssh_options, keep_files=True)
        def slow(i: int) -> tuple[int, int]:  # as claims.record, which the host cannot import
            import time

            with open(log, "a") as f:
                f.write(f"{i}\n")
            time.sleep(2.0)
            return i, i * i

        futures = slow.map(range(6))
        job, transport = futures[0].job, futures[0].target.transport
        deadline = time.monotonic() + 120
        while not (marker := transport.read_text(job.remote_status("0.started"))):
            assert time.monotonic() < deadline, "call 0 never started"
            time.sleep(0.2)
        transport.run(["kill", "-KILL", str(json.loads(marker)["pid"])]).check()
        assert [f.result(timeout=120) for f in futures] == [(i, i * i) for i in range(6)]
        runs = started(log)
        assert runs.count(0) == 2 and sorted(set(runs)) == list(range(6)) and len(runs) == 7, runs
        job_log = transport.read_text(job.remote_log("job", "log")) or ""
        assert "element(s) 0 killed without a result: running them once more" in job_log, job_log
    finally:
        shutil.rmtree(shared, ignore_errors=True)
