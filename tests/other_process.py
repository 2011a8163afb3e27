"""Submit a job array from another Python process, which exits once it is submitted.

A backend must reach the same verdict on a job whether it asks from the process that
submitted it or from any other (``clustrix status``, ``clustrix.attach``): whatever a
plugin needs to judge a job is derived from the job, never kept in the submitter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

#: a map whose element 0 outlives the others: on the Torque-style wrappers an array shows
#: as one record (its last task's), which ends while element 0 still runs
SUBMIT = """
import json, sys
from clustrix import cluster

@cluster(**json.loads(sys.argv[1]), tasks_per_job=1)
def slow_first(x):
    import time
    time.sleep(6 if x == 0 else 0.1)
    return x

print(json.dumps([f.job_id for f in slow_first.map(range(3))]))
"""


def submit_array_elsewhere(options: dict[str, Any]) -> list[str]:
    """Submit ``slow_first.map(range(3))`` from a new process; return its call ids."""
    done = subprocess.run(
        [sys.executable, "-c", SUBMIT, json.dumps(options)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
