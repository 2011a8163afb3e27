"""``clustrix.jobs()``: the job store's recent jobs, as ``clustrix jobs`` shows them.

The result is a list of dicts (one per job) that prints as the CLI's table in a
terminal and renders as an HTML table in Jupyter, so a fresh kernel finds the jobs an
earlier one submitted; ``clustrix.attach(job_id)`` gets their futures back.
"""

from __future__ import annotations

import html
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .cli_output import ago, table

if TYPE_CHECKING:
    from .future import ClusterFuture
    from .store import Store

HEADERS = ("JOB", "FUNCTION", "BACKEND", "HOST", "STATE", "CALLS", "SUBMITTED", "WAITS FOR")


def calls_summary(n_calls: int, states: Counter[str]) -> str:
    """'1', or '10 (3 completed, 7 running)' for a map."""
    if n_calls == 1:
        return "1"
    return f"{n_calls} (" + ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items())) + ")"


def with_attempt(state: str, attempt: int, settings: str | dict[str, Any]) -> str:
    """The state, with 'attempt 2/4' when the job may be retried (``retries=3``)."""
    values = json.loads(settings) if isinstance(settings, str) else settings
    retries = int(values.get("retries") or 0)
    return f"{state} (attempt {attempt}/{retries + 1})" if retries or attempt > 1 else state


class JobTable(list[dict[str, Any]]):
    """Jobs, newest first; each a dict with ``job_id``, ``function``, ``backend``, ``host``,
    ``state``, ``attempt`` (the current one, see ``retries``), ``calls`` (how many),
    ``call_states`` (count per state), ``submitted``, ``waits_for`` (the jobs whose results
    it takes that have not succeeded yet, see :doc:`/tutorials/pipelines`)."""

    def cells(self, now: float | None = None) -> list[tuple[str, ...]]:
        now = now or time.time()
        return [
            (
                j["job_id"],
                j["function"],
                j["backend"],
                j["host"] or "local",
                with_attempt(j["state"], j["attempt"], j["settings"]),
                calls_summary(j["calls"], Counter(j["call_states"])),
                ago(j["submitted"], now),
                ", ".join(j["waits_for"]) or "-",
            )
            for j in self
        ]

    def __repr__(self) -> str:
        return table(HEADERS, self.cells()) if self else "no jobs recorded"

    def _repr_html_(self) -> str:
        return html_table(HEADERS, self.cells())


def html_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def jobs(*, state: str | list[str] | None = None, backend: str | None = None, limit: int | None = 20) -> JobTable:
    """The most recent jobs of this Clustrix home (``limit=None``: all), as ``clustrix jobs``."""
    from .job_access import store_here

    store = store_here()
    return job_table(store, store.jobs(state=state, backend=backend, limit=limit))


def job_table(store: Store, rows: Iterable[sqlite3.Row]) -> JobTable:
    """The table of these job store rows (``clustrix jobs`` prints it)."""
    from .dependencies import waits_for

    found = JobTable()
    for row in rows:
        found.append(
            {
                "job_id": row["job_id"],
                "function": row["function"],
                "backend": row["backend"],
                "host": row["host"],
                "state": row["state"],
                "attempt": row["attempt"],
                "settings": json.loads(row["settings"]),
                "calls": row["n_calls"],
                "call_states": dict(Counter(store.call_states(row["job_id"]).values())),
                "submitted": row["created"],
                "waits_for": waits_for(store, row["job_id"], row["state"]),
            }
        )
    return found


def future_cells(future: ClusterFuture) -> tuple[str, ...]:
    state = "cancelled" if future.cancelled() else "pending"
    if future.done() and not future.cancelled():
        state = "failed" if future.exception() is not None else "finished"
    return (future.job_id, future.job.function, future.job.backend, str(future.native_id), state)


FUTURE_HEADERS = ("CALL", "FUNCTION", "BACKEND", "NATIVE ID", "STATE")


def futures_html(futures: list[ClusterFuture]) -> str:
    """Futures as an HTML table (what Jupyter shows for a future)."""
    return html_table(FUTURE_HEADERS, [future_cells(f) for f in futures])
