"""The job store: every job is recorded before ``submit`` returns, so none is ever lost.

SQLite in Clustrix's home (platformdirs' user data dir, or ``CLUSTRIX_HOME``), in WAL
mode with short ``BEGIN IMMEDIATE`` transactions and retries on "database is locked",
so many processes can submit and watch at once. The schema is versioned with
``PRAGMA user_version``; ``MIGRATIONS[i]`` takes version i to i+1.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import JobNotFound
from .job import Job, State

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE jobs (
        job_id TEXT PRIMARY KEY,
        function TEXT NOT NULL,
        backend TEXT NOT NULL,
        target TEXT NOT NULL,
        settings TEXT NOT NULL,
        native_id TEXT,
        local_dir TEXT NOT NULL,
        remote_dir TEXT NOT NULL,
        n_calls INTEGER NOT NULL,
        tasks_per_element INTEGER NOT NULL,
        state TEXT NOT NULL,
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE TABLE calls (
        call_id TEXT PRIMARY KEY,
        job_id TEXT NOT NULL REFERENCES jobs(job_id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        state TEXT NOT NULL,
        updated REAL NOT NULL
    );
    CREATE INDEX calls_by_job ON calls(job_id);
    CREATE INDEX jobs_by_created ON jobs(created);
    """,
)


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        with self._retrying():
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    @contextmanager
    def _retrying(self) -> Iterator[None]:
        """Retry a whole statement group on 'database is locked' (busy_timeout covers most)."""
        for attempt in range(50):
            try:
                yield
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if attempt == 49:
                    raise
                time.sleep(0.01 + random.random() * 0.05 * (attempt + 1))

    def _write(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        for attempt in range(50):
            with self._lock:
                try:
                    self._db.execute("BEGIN IMMEDIATE")
                    try:
                        for sql, params in statements:
                            self._db.execute(sql, params)
                        self._db.execute("COMMIT")
                    except BaseException:
                        self._db.execute("ROLLBACK")
                        raise
                    return
                except sqlite3.OperationalError as exc:
                    if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == 49:
                        raise
            time.sleep(0.01 + random.random() * 0.05 * (attempt + 1))

    def _migrate(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
        for target in range(version, len(MIGRATIONS)):
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                current = self._db.execute("PRAGMA user_version").fetchone()[0]
                if current == target:
                    for statement in MIGRATIONS[target].split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version={target + 1}")
                self._db.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # --- recording -------------------------------------------------------------------

    def record(self, job: Job, target_key: str) -> None:
        """Record a job and its calls (state SUBMITTING) before it is submitted."""
        now = time.time()
        rows: list[tuple[str, Sequence[Any]]] = [
            (
                "INSERT INTO jobs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    job.job_id, job.function, job.backend, target_key,
                    json.dumps(job.settings, default=str), job.native_id, str(job.local_dir),
                    job.remote_dir, job.n_calls, job.tasks_per_element,
                    State.SUBMITTING.value, job.created, now,
                ),
            )
        ]
        rows += [
            ("INSERT INTO calls VALUES (?,?,?,?,?)", (job.call_id(i), job.job_id, i, State.SUBMITTING.value, now))
            for i in range(job.n_calls)
        ]
        self._write(rows)

    def set_native_id(self, job_id: str, native_id: str) -> None:
        self._write([
            (
                "UPDATE jobs SET native_id=?, state=?, updated=? WHERE job_id=?",
                (native_id, State.PENDING.value, time.time(), job_id),
            ),
            ("UPDATE calls SET state=?, updated=? WHERE job_id=? AND state=?",
             (State.PENDING.value, time.time(), job_id, State.SUBMITTING.value)),
        ])

    def set_states(self, call_states: dict[str, State], job_states: dict[str, State] | None = None) -> None:
        """Write back states seen by a watcher (one transaction for a whole poll cycle)."""
        now = time.time()
        rows: list[tuple[str, Sequence[Any]]] = [
            ("UPDATE calls SET state=?, updated=? WHERE call_id=?", (s.value, now, c))
            for c, s in call_states.items()
        ]
        rows += [
            ("UPDATE jobs SET state=?, updated=? WHERE job_id=?", (s.value, now, j))
            for j, s in (job_states or {}).items()
        ]
        if rows:
            self._write(rows)

    def delete(self, job_ids: Sequence[str]) -> None:
        self._write([("DELETE FROM jobs WHERE job_id=?", (j,)) for j in job_ids])

    # --- reading ---------------------------------------------------------------------

    def job(self, job_id: str) -> tuple[Job, str, str]:
        """The job, its target key and its recorded state."""
        rows = self._read("SELECT * FROM jobs WHERE job_id=?", (job_id,))
        if not rows:
            raise JobNotFound(f"no job {job_id!r} in the job store {self.path}; `clustrix jobs` lists them")
        return _job_of(rows[0]), rows[0]["target"], rows[0]["state"]

    def call(self, call_id: str) -> tuple[str, int, str]:
        """(job id, index in the job, state) of one call id."""
        rows = self._read("SELECT job_id, idx, state FROM calls WHERE call_id=?", (call_id,))
        if not rows:
            raise JobNotFound(f"no job {call_id!r} in the job store {self.path}; `clustrix jobs` lists them")
        return rows[0]["job_id"], rows[0]["idx"], rows[0]["state"]

    def calls(self, job_id: str) -> list[sqlite3.Row]:
        return self._read("SELECT * FROM calls WHERE job_id=? ORDER BY idx", (job_id,))

    def jobs(
        self, *, state: str | None = None, backend: str | None = None, since: float | None = None, limit: int = 50
    ) -> list[sqlite3.Row]:
        sql, params = "SELECT * FROM jobs WHERE 1=1", []
        if state:
            sql += " AND state=?"
            params.append(state.upper())
        if backend:
            sql += " AND backend=?"
            params.append(backend)
        if since is not None:
            sql += " AND created>=?"
            params.append(since)
        sql += " ORDER BY created DESC LIMIT ?"
        params.append(limit)
        return self._read(sql, params)

    def count(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM calls")[0][0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _job_of(row: sqlite3.Row) -> Job:
    return Job(
        job_id=row["job_id"],
        function=row["function"],
        backend=row["backend"],
        settings=json.loads(row["settings"]),
        local_dir=Path(row["local_dir"]),
        remote_dir=row["remote_dir"],
        n_calls=row["n_calls"],
        tasks_per_element=row["tasks_per_element"],
        native_id=row["native_id"],
        created=row["created"],
    )


_stores: dict[Path, Store] = {}
_stores_lock = threading.Lock()


def open_store(home: Path) -> Store:
    """The process-wide store of one Clustrix home (``home/jobs.sqlite``)."""
    path = home / "jobs.sqlite"
    with _stores_lock:
        if path not in _stores:
            _stores[path] = Store(path)
        return _stores[path]
