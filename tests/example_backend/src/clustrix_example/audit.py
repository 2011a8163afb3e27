"""Plugin ``example-audit``: a hookwrapper that observes every submit, on every backend.

Appends one JSON line per submission (job id, backend, calls, seconds, outcome) to
``audit.jsonl`` in the Clustrix home.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from typing import Any

from clustrix.plugin import Job, Target, hookimpl


class SubmitAudit:
    """Spec: :func:`clustrix.hookspecs.clustrix_submit`, as a wrapper (not a backend: it returns no id of its own)."""

    @hookimpl(wrapper=True)
    def clustrix_submit(self, job: Job, target: Target) -> Generator[None, Any, Any]:
        started = time.time()
        outcome = "error"
        try:
            native_id = yield
            outcome = "submitted"
            return native_id
        finally:
            record = {
                "job_id": job.job_id,
                "backend": job.backend,
                "calls": job.n_calls,
                "seconds": round(time.time() - started, 4),
                "outcome": outcome,
            }
            with open(target.home / "audit.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")


plugin = SubmitAudit()
