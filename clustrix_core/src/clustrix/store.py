"""The job store: every job is recorded before ``submit`` returns, so none is ever lost.

SQLite in Clustrix's home (platformdirs' user data dir, or ``CLUSTRIX_HOME``), in WAL
mode with short ``BEGIN IMMEDIATE`` transactions and retries on "database is locked",
so many processes can submit and watch at once. The schema is versioned with
``PRAGMA user_version``; ``MIGRATIONS[i]`` takes version i to i+1 (append, never edit).

The home is private whatever the umask: the home, ``jobs/`` and ``blobs/`` are 0700,
the database and its ``-wal``/``-shm`` files 0600 (settings hold ``env`` values).
A write waits at most ``BUSY_TIMEOUT`` seconds in all for a lock another process holds,
then raises :class:`~clustrix.errors.StoreBusy` naming the holder when /proc/locks tells.
On a network filesystem (NFS, SMB, Lustre, ...; read from /proc/mounts) WAL cannot
work, as its shared-memory index is not shared between hosts: the store uses SQLite's
rollback journal (``DELETE``) there instead.

A job row holds what is needed to find and rebuild the job from any process: its
function, backend, target (key, host, profile), native id, local and remote job dirs,
resolved settings (resources included), state and timestamps. Its calls (one per
future, ``JOBID.i`` within an array) are counted in the job row (``n_calls``) and get rows
of their own only once their state is known: an element whose calls all ended alike
gets one row (``elements``), a call that differs from the rest of its element (or was
cancelled alone) one row (``calls``). A call's state is its own row's, else its element's,
else its job's; so a million-call map costs a row per job and per element, not per call.
Each submission of
a job is an *attempt* (retries, ``clustrix.retry``) with its own row: native id,
state, reason, resources, the elements it failed with; the job row's ``attempt``,
``native_id`` and ``settings`` follow the current attempt, which is recorded
(SUBMITTING) before it is submitted, so a process dying between attempts loses nothing.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .errors import ClustrixError, JobNotFound, StoreBusy
from .job import Job, State

T = TypeVar("T")
#: a statement run by ``executemany`` over the rows made by a function (called once per try)
Many = tuple[str, Callable[[], Iterator[Sequence[Any]]]]
#: seconds a read or write of the store may wait in all for a lock held by another process
BUSY_TIMEOUT = 60.0
#: filesystem types (as in /proc/mounts) where SQLite's WAL mode does not work
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ceph",
        "glusterfs",
        "fuse.glusterfs",
        "fuse.sshfs",
        "lustre",
        "gpfs",
        "beegfs",
        "afs",
        "9p",
    }
)

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
    # 2: host and profile as columns (for `clustrix jobs` filters), when the job ended
    """
    ALTER TABLE jobs ADD COLUMN host TEXT;
    ALTER TABLE jobs ADD COLUMN profile TEXT;
    ALTER TABLE jobs ADD COLUMN finished REAL;
    UPDATE jobs SET host = json_extract(target, '$.cluster_host'), profile = json_extract(settings, '$.profile');
    UPDATE jobs SET finished = updated WHERE state NOT IN ('SUBMITTING', 'PENDING', 'RUNNING');
    CREATE INDEX jobs_by_state ON jobs(state);
    """,
    # 3: retries: every submission of a job is an attempt; the job row follows the current one
    """
    CREATE TABLE attempts (
        job_id TEXT NOT NULL REFERENCES jobs(job_id) ON DELETE CASCADE,
        attempt INTEGER NOT NULL,
        native_id TEXT,
        state TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        resources TEXT NOT NULL DEFAULT '{}',
        elements TEXT NOT NULL DEFAULT '{}',
        submitted REAL NOT NULL,
        PRIMARY KEY (job_id, attempt)
    );
    ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
    INSERT INTO attempts (job_id, attempt, native_id, state, resources, submitted)
        SELECT job_id, 1, native_id, state,
               json_object('memory', json_extract(settings, '$.memory'), 'time', json_extract(settings, '$.time')),
               created
        FROM jobs;
    """,
    # 4: pipelines: a child job takes results of parent jobs (clustrix.dependencies)
    """
    CREATE TABLE dependencies (
        parent_job TEXT NOT NULL,
        child_job TEXT NOT NULL REFERENCES jobs(job_id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        PRIMARY KEY (parent_job, child_job)
    );
    CREATE INDEX dependencies_by_child ON dependencies(child_job);
    """,
    # 5: a call has a row only when its state differs from its element's, an element one when
    # its calls ended alike; otherwise a call is in its job's state (a version before this one
    # would take such calls for missing, hence the new version)
    """
    CREATE TABLE elements (
        job_id TEXT NOT NULL REFERENCES jobs(job_id) ON DELETE CASCADE,
        element INTEGER NOT NULL,
        state TEXT NOT NULL,
        updated REAL NOT NULL,
        PRIMARY KEY (job_id, element)
    );
    DELETE FROM calls WHERE state IN ('SUBMITTING', 'HELD', 'PENDING', 'RUNNING');
    DROP INDEX calls_by_job;
    CREATE INDEX calls_by_job_idx ON calls(job_id, idx);
    """,
)
#: the settings an attempt's record keeps (what retries may escalate, and what it ran with)
ATTEMPT_RESOURCES = ("memory", "time", "partition", "queue")

LIVE_STATES = tuple(s.value for s in State if not s.terminal)
_INSERT_JOB = (
    "INSERT INTO jobs (job_id, function, backend, target, settings, native_id, local_dir, remote_dir,"
    " n_calls, tasks_per_element, state, created, updated, host, profile) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_LIVE_SQL = "(" + ",".join(f"'{v}'" for v in LIVE_STATES) + ")"
#: a call's own state: its row is made, or updated unless a live state would replace a final one
_UPSERT_CALL = (
    "INSERT INTO calls (call_id, job_id, idx, state, updated)"
    " SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM jobs WHERE job_id = ?2)"  # a deleted job: nothing
    " ON CONFLICT(call_id) DO UPDATE SET state=excluded.state, updated=excluded.updated"
    f" WHERE calls.state IN {_LIVE_SQL} OR ?6 = 1"
)
#: the state every call of an element ended in, in the same way
_UPSERT_ELEMENT = (
    "INSERT INTO elements (job_id, element, state, updated)"
    " SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM jobs WHERE job_id = ?1)"
    " ON CONFLICT(job_id, element) DO UPDATE SET state=excluded.state, updated=excluded.updated"
    f" WHERE elements.state IN {_LIVE_SQL} OR ?5 = 1"
)


def _busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


def _backoff(attempt: int) -> None:
    time.sleep(0.01 + random.random() * 0.05 * min(attempt + 1, 20))


def private_dir(path: Path) -> None:
    """Create ``path`` (mode 0700), or take group/other access away from an existing one of ours."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    _private(path)


def _private(path: Path) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_mode & 0o077 and info.st_uid == os.getuid():
        path.chmod(stat.S_IMODE(info.st_mode) & 0o700)


def make_private(paths: Sequence[Path]) -> None:
    """Take group/other access away from these files and directories and all they hold."""
    for top in paths:
        _private(top)
        if top.is_dir() and not top.is_symlink():
            for root, dirs, files in os.walk(top):
                for name in dirs + files:
                    _private(Path(root) / name)


def _private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists; make an existing one 0600."""
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        _private(path)


def _unescape_mount(field: str) -> str:
    """/proc/mounts writes space, tab, newline and backslash in paths as octal escapes."""
    for code in ("040", "011", "012", "134"):
        field = field.replace("\\" + code, chr(int(code, 8)))
    return field


def filesystem_type(path: Path, mounts: str) -> str | None:
    """Type of the filesystem holding ``path``, from the text of /proc/mounts."""
    where = os.path.realpath(path)
    best, best_type = "", None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = _unescape_mount(fields[1])
        inside = where == point or where.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, best_type = point, fields[2]
    return best_type


def journal_mode_for(path: Path, mounts_file: Path) -> str:
    """WAL on a local filesystem; the rollback journal (DELETE) on a network one."""
    try:
        mounts = mounts_file.read_text()
    except OSError:
        return "WAL"  # no /proc (not Linux): assume a local disk, as SQLite does
    fs_type = filesystem_type(path, mounts)
    if fs_type is not None and (fs_type in NETWORK_FILESYSTEMS or fs_type.startswith("nfs")):
        return "DELETE"
    return "WAL"


def lock_holders(paths: Sequence[Path], locks_file: Path = Path("/proc/locks")) -> list[str]:
    """Other processes holding a POSIX lock on any of these files, writers first:
    'pid 123 (python3 sync.py)'. Empty when it cannot be told (no /proc, another host)."""
    wanted = {}
    for p in paths:
        try:
            info = p.stat()
        except OSError:
            continue
        wanted[f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"] = p
    try:
        lines = locks_file.read_text().splitlines()
    except OSError:
        return []
    found: dict[int, bool] = {}
    for line in lines:
        fields = line.split()
        if len(fields) < 6 or fields[1] == "->":  # "->": a process waiting, not holding
            continue
        kind, pid_text, device = fields[3], fields[4], fields[5]
        if device not in wanted or not pid_text.isdigit() or int(pid_text) in (0, os.getpid()):
            continue
        found[int(pid_text)] = found.get(int(pid_text), False) or kind == "WRITE"
    described = []
    for pid in sorted(found, key=lambda p: not found[p]):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            command = ""
        described.append(f"pid {pid}" + (f" ({command[:120]})" if command else ""))
    return described


class Store:
    def __init__(self, path: Path, *, busy_timeout: float = BUSY_TIMEOUT, mounts: Path = Path("/proc/mounts")) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        private_dir(path.parent)
        for sub in ("jobs", "blobs"):
            private_dir(path.parent / sub)
        _private_file(path)  # SQLite gives the -wal/-shm files the database file's mode
        for suffix in ("-wal", "-shm", "-journal"):
            _private(path.with_name(path.name + suffix))
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._waiting_ms = -1
        #: "WAL", or "DELETE" on a network filesystem where WAL cannot work
        self.journal_mode = journal_mode_for(path, mounts)
        self._retry(lambda: self._db.execute(f"PRAGMA journal_mode={self.journal_mode}"))
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _retry(self, action: Callable[[], T]) -> T:
        """Run ``action``, again on 'database is locked', for at most ``busy_timeout`` s in all.

        SQLite's busy handler waits for the lock within one attempt; the retries cover
        the cases where SQLite reports busy at once (e.g. a WAL snapshot that moved).
        """
        deadline = time.monotonic() + self.busy_timeout
        attempt = 0
        while True:
            try:
                with self._lock:
                    self._wait_at_most(deadline - time.monotonic())
                    return action()
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise self._busy_error(exc) from exc
            _backoff(attempt)
            attempt += 1

    def _wait_at_most(self, seconds: float) -> None:
        """Let SQLite's busy handler wait no longer than the time left (changed only when it must)."""
        ms = max(0, int(seconds * 1000))
        if self._waiting_ms < 0 or abs(ms - self._waiting_ms) > 1000:  # within a second of the bound
            self._db.execute(f"PRAGMA busy_timeout={ms}")
            self._waiting_ms = ms

    def _busy_error(self, exc: sqlite3.OperationalError) -> StoreBusy:
        files = [self.path, self.path.with_name(self.path.name + "-shm")]
        holders = lock_holders(files)
        held = (
            f"held by {', '.join(holders)}"
            if holders
            else "held by another process (which one, /proc/locks does not tell)"
        )
        return StoreBusy(
            f"the job store {self.path} stayed locked for {self.busy_timeout:g} s ({exc}); the lock is "
            f"{held}. Retry once it is released, or stop that process if it hangs."
        )

    def _transaction(self, statements: Sequence[tuple[str, Sequence[Any]]], many: Sequence[Many] = ()) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                self._db.execute(sql, params)
            for sql, rows in many:
                self._db.executemany(sql, rows())
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _write(self, statements: Sequence[tuple[str, Sequence[Any]]], many: Sequence[Many] = ()) -> None:
        """One short IMMEDIATE transaction (takes the write lock at once: no upgrade deadlock);
        ``many``: statements run once per row their generator makes (``executemany``)."""
        self._retry(lambda: self._transaction(statements, many))

    @property
    def version(self) -> int:
        return int(self._retry(lambda: self._db.execute("PRAGMA user_version").fetchone()[0]))

    def _migrate(self) -> None:
        """Bring the schema to ``len(MIGRATIONS)``; concurrent openers migrate once."""
        version = self.version
        if version > len(MIGRATIONS):
            raise ClustrixError(
                f"the job store {self.path} has schema version {version}, newer than this Clustrix "
                f"understands ({len(MIGRATIONS)}); upgrade clustrix (`pip install -U clustrix`)"
            )
        for step in range(version, len(MIGRATIONS)):
            self._retry(lambda step=step: self._migrate_step(step))  # type: ignore[misc]

    def _migrate_step(self, step: int) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if self._db.execute("PRAGMA user_version").fetchone()[0] == step:  # not done by another process
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={step + 1}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self._retry(lambda: self._db.execute(sql, params).fetchall())

    # --- recording -------------------------------------------------------------------

    def record(self, job: Job, target_key: str) -> None:
        """Record a job (state SUBMITTING, as its calls) before it is submitted: one row
        whatever its number of calls, each of which gets its own row once it ends."""
        now = time.time()
        rows: list[tuple[str, Sequence[Any]]] = [
            (
                _INSERT_JOB,
                (
                    job.job_id,
                    job.function,
                    job.backend,
                    target_key,
                    json.dumps(job.settings, default=str),
                    job.native_id,
                    str(job.local_dir),
                    job.remote_dir,
                    job.n_calls,
                    job.tasks_per_element,
                    State.SUBMITTING.value,
                    job.created,
                    now,
                    job.settings.get("cluster_host"),
                    job.settings.get("profile"),
                ),
            )
        ]
        rows.append(self._insert_attempt(job.job_id, job.attempt, job.settings, {}, now))
        self._write(rows)

    @staticmethod
    def _insert_attempt(
        job_id: str, attempt: int, settings: dict[str, Any], elements: dict[int, str], now: float
    ) -> tuple[str, Sequence[Any]]:
        resources = {k: settings[k] for k in ATTEMPT_RESOURCES if settings.get(k) is not None}
        return (
            "INSERT INTO attempts (job_id, attempt, native_id, state, resources, elements, submitted)"
            " VALUES (?,?,NULL,?,?,?,?)",
            (job_id, attempt, State.SUBMITTING.value, json.dumps(resources, default=str), json.dumps(elements), now),
        )

    def begin_attempt(self, job: Job, ended: tuple[State, str], elements: dict[int, State]) -> bool:
        """Record attempt ``job.attempt`` (SUBMITTING, with ``job.settings``) of a job whose
        previous attempt ended in ``ended`` (state, reason), its ``elements`` to run again
        with the state each ended in; the job row follows the new attempt (its native id
        is NULL until :meth:`set_native_id`, so no other process polls the previous one).

        False, recording nothing, when the store's current attempt is not the previous one:
        another process watching the job began this attempt first."""
        now = time.time()
        states = json.dumps({str(e): s.value for e, s in elements.items()})

        def transaction() -> bool:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                moved = self._db.execute(
                    "UPDATE jobs SET attempt=?, settings=?, native_id=NULL, updated=? WHERE job_id=? AND attempt=?",
                    (job.attempt, json.dumps(job.settings, default=str), now, job.job_id, job.attempt - 1),
                ).rowcount
                if moved:
                    self._db.execute(
                        "UPDATE attempts SET state=?, reason=?, elements=? WHERE job_id=? AND attempt=?",
                        (ended[0].value, ended[1], states, job.job_id, job.attempt - 1),
                    )
                    self._db.execute(*self._insert_attempt(job.job_id, job.attempt, job.settings, {}, now))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return bool(moved)

        return self._retry(transaction)

    def end_attempt(self, job_id: str, attempt: int, state: State, reason: str) -> None:
        """An attempt that was not followed by another: its final state (and why)."""
        self._write(
            [
                (
                    "UPDATE attempts SET state=?, reason=? WHERE job_id=? AND attempt=?",
                    (state.value, reason, job_id, attempt),
                )
            ]
        )

    def attempts(self, job_id: str) -> list[sqlite3.Row]:
        """Every attempt of a job, first first (attempt, native_id, state, reason, resources, elements, submitted)."""
        return self._read("SELECT * FROM attempts WHERE job_id=? ORDER BY attempt", (job_id,))

    def set_native_id(self, job_id: str, native_id: str, attempt: int = 1) -> None:
        self._write(
            [
                (
                    "UPDATE jobs SET native_id=?, state=?, updated=? WHERE job_id=?",
                    (native_id, State.PENDING.value, time.time(), job_id),
                ),
                (
                    "UPDATE attempts SET native_id=?, state=? WHERE job_id=? AND attempt=?",
                    (native_id, State.PENDING.value, job_id, attempt),
                ),
                (
                    "UPDATE calls SET state=?, updated=? WHERE job_id=? AND state=?",
                    (State.PENDING.value, time.time(), job_id, State.SUBMITTING.value),
                ),
            ]
        )

    def set_states(
        self,
        call_states: dict[str, State],
        job_states: dict[str, State] | None = None,
        attempt_ends: dict[tuple[str, int], tuple[State, str]] | None = None,
        element_states: dict[tuple[str, int], State] | None = None,
    ) -> None:
        """Write back states seen by a watcher (one transaction for a whole poll cycle),
        with the final state and reason of the attempts that ended (``attempt_ends``);
        ``element_states``: (job id, element) whose every call is in that state.

        A live state never overwrites a final one: a slow watcher in another process
        cannot bring a finished job back to RUNNING.
        """
        now = time.time()
        guard = f" AND (state IN {_LIVE_SQL} OR ? = 1)"

        def calls() -> Iterator[tuple[Any, ...]]:  # made as SQLite takes them: no list of rows
            for call_id, s in call_states.items():
                job_id, _, index = call_id.rpartition(".")
                yield (call_id, job_id or call_id, int(index) if job_id else 0, s.value, now, int(s.terminal))

        elements = [(j, e, s.value, now, int(s.terminal)) for (j, e), s in (element_states or {}).items()]

        rows: list[tuple[str, Sequence[Any]]] = [
            (
                "UPDATE jobs SET state=?, updated=?, finished=? WHERE job_id=?" + guard,
                (s.value, now, now if s.terminal else None, j, int(s.terminal)),
            )
            for j, s in (job_states or {}).items()
        ]
        rows += [
            ("UPDATE attempts SET state=?, reason=? WHERE job_id=? AND attempt=?", (s.value, reason, j, a))
            for (j, a), (s, reason) in (attempt_ends or {}).items()
        ]
        if rows or call_states or elements:
            self._write(rows, [(_UPSERT_CALL, calls), (_UPSERT_ELEMENT, lambda: iter(elements))])

    def set_job_state(self, job_id: str, state: State) -> None:
        """Force a job and all its calls to ``state`` (e.g. CANCELLED by `clustrix cancel`)."""
        now = time.time()
        finished = now if state.terminal else None
        self._write(
            [
                (
                    "UPDATE jobs SET state=?, updated=?, finished=? WHERE job_id=?",
                    (state.value, now, finished, job_id),
                ),
                (
                    "UPDATE calls SET state=?, updated=? WHERE job_id=?",
                    (state.value, now, job_id),
                ),
                (
                    "UPDATE elements SET state=?, updated=? WHERE job_id=?",
                    (state.value, now, job_id),
                ),
            ]
        )

    def delete(self, job_ids: Sequence[str]) -> None:
        self._write([("DELETE FROM jobs WHERE job_id=?", (j,)) for j in job_ids])

    # --- reading ---------------------------------------------------------------------

    def job(self, job_id: str) -> tuple[Job, str, str]:
        """The job, its target key and its recorded state."""
        rows = self._read("SELECT * FROM jobs WHERE job_id=?", (job_id,))
        if not rows:
            raise JobNotFound(f"no job {job_id!r} in the job store {self.path}; `clustrix jobs` lists them")
        return _job_of(rows[0]), rows[0]["target"], rows[0]["state"]

    def row(self, job_id: str) -> sqlite3.Row:
        """The job's raw record (all columns)."""
        rows = self._read("SELECT * FROM jobs WHERE job_id=?", (job_id,))
        if not rows:
            raise JobNotFound(f"no job {job_id!r} in the job store {self.path}; `clustrix jobs` lists them")
        return rows[0]

    def call(self, call_id: str) -> tuple[str, int, str]:
        """(job id, index in the job, state) of one call id (``JOBID`` or ``JOBID.i``)."""
        rows = self._read("SELECT job_id, idx, state FROM calls WHERE call_id=?", (call_id,))
        if rows:
            return rows[0]["job_id"], rows[0]["idx"], rows[0]["state"]
        job_id, _, index = call_id.rpartition(".")  # no row of its own: its element's or job's state
        if not job_id:
            job_id, index = call_id, ""
        rows = self._read("SELECT n_calls, tasks_per_element, state FROM jobs WHERE job_id=?", (job_id,))
        n_calls = rows[0]["n_calls"] if rows else 0
        if index == "" and n_calls == 1:
            i = 0
        elif index.isdigit() and n_calls > 1 and int(index) < n_calls and str(int(index)) == index:
            i = int(index)
        else:
            raise JobNotFound(f"no job {call_id!r} in the job store {self.path}; `clustrix jobs` lists them")
        element = self._read(
            "SELECT state FROM elements WHERE job_id=? AND element=?", (job_id, i // rows[0]["tasks_per_element"])
        )
        return job_id, i, element[0]["state"] if element else rows[0]["state"]

    def calls(self, job_id: str) -> list[sqlite3.Row]:
        """The rows of the job's calls that have their own state (the others are in the job's)."""
        return self._read("SELECT * FROM calls WHERE job_id=? ORDER BY idx", (job_id,))

    def resolve(self, some_id: str) -> tuple[Job, int | None, sqlite3.Row]:
        """A job id or a call id: (job, call index or None for a whole job, job row)."""
        rows = self._read("SELECT * FROM jobs WHERE job_id=?", (some_id,))
        if rows:
            job = _job_of(rows[0])
            return job, (0 if not job.is_array else None), rows[0]
        parent, index, _ = self.call(some_id)
        rows = self._read("SELECT * FROM jobs WHERE job_id=?", (parent,))
        return _job_of(rows[0]), index, rows[0]

    def call_states(self, job_id: str) -> dict[int, str]:
        """The state of every call of a job, by index."""
        rows = self._read("SELECT n_calls, tasks_per_element, state FROM jobs WHERE job_id=?", (job_id,))
        if not rows:
            return {}
        n_calls, per_element, state = rows[0]["n_calls"], rows[0]["tasks_per_element"], rows[0]["state"]
        elements = {r["element"]: r["state"] for r in self._read("SELECT * FROM elements WHERE job_id=?", (job_id,))}
        own = {r["idx"]: r["state"] for r in self.calls(job_id)}
        return {i: own.get(i) or elements.get(i // per_element, state) for i in range(n_calls)}

    def jobs(
        self,
        *,
        state: str | Sequence[str] | None = None,
        backend: str | None = None,
        since: float | None = None,
        before: float | None = None,
        limit: int | None = 50,
    ) -> list[sqlite3.Row]:
        """Job rows, newest first; ``since``/``before`` bound the submit time (epoch seconds)."""
        sql, params = "SELECT * FROM jobs WHERE 1=1", list[Any]()
        if state:
            states = [state] if isinstance(state, str) else list(state)
            sql += f" AND state IN ({','.join('?' * len(states))})"
            params.extend(s.upper() for s in states)
        if backend:
            sql += " AND backend=?"
            params.append(backend)
        if since is not None:
            sql += " AND created>=?"
            params.append(since)
        if before is not None:
            sql += " AND created<?"
            params.append(before)
        sql += " ORDER BY created DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return self._read(sql, params)

    def finished_before(self, cutoff: float) -> list[sqlite3.Row]:
        """Jobs in a final state that ended before ``cutoff`` (epoch seconds)."""
        return self._read(
            f"SELECT * FROM jobs WHERE state NOT IN {_LIVE_SQL} AND COALESCE(finished, updated) < ? ORDER BY created",
            (cutoff,),
        )

    def count(self) -> int:
        """Number of recorded calls."""
        return int(self._read("SELECT COALESCE(SUM(n_calls), 0) FROM jobs")[0][0])

    def count_jobs(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM jobs")[0][0])

    # --- pipelines (see clustrix.dependencies) ---------------------------------------

    def add_dependencies(self, child_job: str, parent_jobs: Sequence[str], kind: str) -> None:
        """Record that ``child_job`` takes results of ``parent_jobs`` (before it is staged);
        ``kind``: "all", or "elementwise" (element i waits for the parent's element i)."""
        self._write(
            [("INSERT OR IGNORE INTO dependencies VALUES (?,?,?)", (parent, child_job, kind)) for parent in parent_jobs]
        )

    def dependents(self, parent_job: str) -> list[sqlite3.Row]:
        """The jobs taking results of ``parent_job``: rows of (job_id, state, kind)."""
        return self._read(
            "SELECT j.job_id, j.state, d.kind FROM dependencies d JOIN jobs j ON j.job_id = d.child_job WHERE d.parent_job=?",
            (parent_job,),
        )

    def parents(self, child_job: str) -> list[str]:
        """The jobs ``child_job`` takes results of."""
        rows = self._read("SELECT parent_job FROM dependencies WHERE child_job=?", (child_job,))
        return [r["parent_job"] for r in rows]

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
        attempt=row["attempt"],
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


def close_store(home: Path) -> None:
    """Close the store of a home this process is done with (its 3 file descriptors: the
    database, its WAL and shared memory); a later ``open_store`` opens it again."""
    with _stores_lock:
        store = _stores.pop(home / "jobs.sqlite", None)
    if store is not None:
        store.close()
