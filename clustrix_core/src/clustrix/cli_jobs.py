"""`clustrix jobs|status|result|logs|cancel`: find recorded jobs and recover their results."""

from __future__ import annotations

import codecs
import json
import os
import sqlite3
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import click
import cloudpickle

from . import dependencies
from .cli_output import Age, Failed, ago, echo_json, masked_settings, table
from .errors import JobNotFound
from .job import State
from .job_access import Recorded, poll_once, refresh, settle, store_here
from .listing import calls_summary, job_table, with_attempt
from .store import Store
from .transport import LocalTransport, Transport

STATE_NAMES = [s.value for s in State]


def _row_json(row: sqlite3.Row, store: Store, show_env: bool = False) -> dict[str, Any]:
    data = dict(row)
    data["settings"] = masked_settings(json.loads(data["settings"]), show_env)
    data["target"] = json.loads(data["target"])
    data["calls"] = {str(k): v for k, v in store.call_states(row["job_id"]).items()}
    data["waits_for"] = dependencies.waits_for(store, row["job_id"], row["state"])
    return data


@click.command()
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(STATE_NAMES, case_sensitive=False),
    help="Only jobs in this state (repeatable).",
)
@click.option("--backend", help="Only jobs of this backend, e.g. slurm.")
@click.option("--since", type=Age(), help="Only jobs submitted within this age, e.g. 2h or 7d.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="At most this many jobs.")
@click.option("--all", "show_all", is_flag=True, help="No limit.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: a list of job records.")
@click.option("--show-env", is_flag=True, help="With --json: show env values (masked by default).")
@click.option("--watch", is_flag=True, help="First follow the live jobs listed until they end (a bar on a terminal).")
def jobs(
    states: tuple[str, ...],
    backend: str | None,
    since: float | None,
    limit: int,
    show_all: bool,
    as_json: bool,
    show_env: bool,
    watch: bool = False,
) -> None:
    """List recent jobs from the job store, newest first.

    States are as last recorded by any process that watched the job; `clustrix status`
    asks the backend for fresh ones. CALLS is the number of calls (futures) in the job,
    with a count per state for a `.map()` array. WAITS FOR names the jobs whose results a
    job not yet ended takes and that have not succeeded yet (its scheduler holds it). The values of a job's `env` setting
    often hold tokens: --json masks them unless --show-env is given.

    \b
    Examples:
      clustrix jobs
      clustrix jobs --state RUNNING --state PENDING --backend slurm
      clustrix jobs --since 2d --json | jq '.[].job_id'
      clustrix jobs --watch
    """
    store = store_here()
    if watch:  # settle the live ones as their submitter would, then list
        from .progress import watch_jobs

        listed = store.jobs(
            state=list(states) or None,
            backend=backend,
            since=None if since is None else time.time() - since,
            limit=None if show_all else limit,
        )
        watch_jobs(store, [r["job_id"] for r in listed if not State(r["state"]).terminal])
    rows = store.jobs(
        state=list(states) or None,
        backend=backend,
        since=None if since is None else time.time() - since,
        limit=None if show_all else limit,
    )
    if as_json:
        echo_json([_row_json(r, store, show_env) for r in rows])
        return
    if not rows:
        click.echo("no jobs recorded" + (" matching these filters" if states or backend or since else ""))
        return
    click.echo(repr(job_table(store, rows)))


@click.command()
@click.argument("job_ids", nargs=-1, required=True, metavar="JOB...")
@click.option("--cached", is_flag=True, help="Show the recorded state; do not ask the backend.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(job_ids: tuple[str, ...], cached: bool, as_json: bool) -> None:
    """Show the state of jobs (or single calls, JOBID.N), asking their backends first.

    The backend is asked once per cluster for all the given jobs that are still live; what
    it says is written to the job store. A job that ended is settled as the submitting
    process would have done (results fetched, remote files cleaned up on success).
    Exits 1 if any id is unknown.

    \b
    Examples:
      clustrix status c18f3a2b1c4d5e6
      clustrix status c18f3a2b1c4d5e6.3 --json
    """
    store = store_here()
    found, unknown = [], []
    for some_id in job_ids:
        try:
            found.append((some_id, *store.resolve(some_id)))
        except JobNotFound as exc:
            unknown.append(str(exc))
    if not cached:
        for warning in refresh(store, [job.job_id for _, job, _, _ in found]):
            click.echo(f"warning: {warning}", err=True)
    records = []
    for some_id, job, index, _ in found:
        row = store.row(job.job_id)
        state = (
            store.call_states(job.job_id).get(index, row["state"])
            if job.is_array and index is not None
            else row["state"]
        )
        records.append(
            {
                "id": some_id,
                "job_id": job.job_id,
                "state": state,
                "function": job.function,
                "backend": job.backend,
                "native_id": row["native_id"],
                "attempt": row["attempt"],
                "attempts": [dict(a) for a in store.attempts(job.job_id)],
                "host": row["host"],
                "calls": job.n_calls,
                "call_index": index if job.is_array else None,
                "submitted": row["created"],
                "updated": row["updated"],
                "call_states": {str(k): v for k, v in store.call_states(job.job_id).items()},
            }
        )
    if as_json:
        echo_json(records)
    elif records:
        job_settings = {job.job_id: job.settings for _, job, _, _ in found}
        now = time.time()
        click.echo(
            table(
                ["ID", "STATE", "FUNCTION", "BACKEND", "NATIVE ID", "CALLS", "SUBMITTED", "UPDATED"],
                [
                    (
                        r["id"],
                        with_attempt(r["state"], r["attempt"], job_settings[r["job_id"]]),
                        r["function"],
                        r["backend"],
                        r["native_id"],
                        calls_summary(r["calls"], Counter(store.call_states(r["job_id"]).values()))
                        if r["call_index"] is None
                        else f"call {r['call_index']} of {r['calls']}",
                        ago(r["submitted"], now),
                        ago(r["updated"], now),
                    )
                    for r in records
                ],
            )
        )
    if unknown:
        raise Failed("\n".join(unknown))


def _describe(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).rstrip() + "".join(
        "\n" + note for note in getattr(exc, "__notes__", []) if note not in str(exc)
    )


@click.command()
@click.argument("job_id", metavar="JOB")
@click.option("--wait/--no-wait", default=False, help="Wait for the job to finish (default: answer now).")
@click.option("--timeout", type=click.FloatRange(min=0), help="Wait at most this many seconds (implies --wait).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the value as a pickle to this file instead of printing its repr.",
)
def result(job_id: str, wait: bool, timeout: float | None, out: Path | None) -> None:
    """Print the return value of a job (its repr), or write it as a pickle with --out.

    JOB is a job id, or JOBID.N for one call of a `.map()`; a whole array job gives the
    list of its calls' values, in input order. The result is read from the job's files,
    verified, and unpickled here; this works from any process, after the submitting one
    exited or was killed. If the function raised, its exception (with the remote
    traceback) is printed and the exit code is 1; so is it if the job is not finished
    (without --wait) or the --timeout passes.

    \b
    Examples:
      clustrix result c18f3a2b1c4d5e6
      clustrix result c18f3a2b1c4d5e6.7 --wait --timeout 600
      clustrix result c18f3a2b1c4d5e6 --out value.pkl
    """
    store = store_here()
    job, index, row = store.resolve(job_id)
    recorded = Recorded.of(job, row["state"])
    wanted = recorded.futures(index)
    if not settle([recorded], wanted, wait=wait or timeout is not None, timeout=timeout):
        state = store.row(job.job_id)["state"]
        if timeout is not None:
            raise Failed(f"job {job_id} did not finish within {timeout:g} s (state {state})")
        raise Failed(f"job {job_id} has not finished (state {state}); `clustrix result {job_id} --wait` waits for it")
    errors = [(f.job_id, f.exception()) for f in wanted if f.exception() is not None]
    if errors:
        raise Failed("\n".join(f"job {cid} failed:\n{_describe(exc)}" for cid, exc in errors if exc is not None))
    value = wanted[0].result() if index is not None else [f.result() for f in wanted]
    if out is not None:
        out.write_bytes(cloudpickle.dumps(value))
        click.echo(f"wrote the result of {job_id} to {out}", err=True)
    else:
        click.echo(repr(value))


class LogReader:
    """Reads what was added to a log since the last call: never the whole file again.

    Locally it seeks to the offset; through another transport one command prints the
    file's size and the bytes past the offset (``tail -c +N | head -c``). A file that
    shrank (the runner keeps the head and a rolling tail of a long log) is followed from
    its new end, with ``rewound`` set.
    """

    _REMOTE = 'size=$(wc -c < "$1") || exit 1; size=$((size)); echo "$size"; [ "$size" -gt "$2" ] || exit 0; tail -c +"$(( $2 + 1 ))" -- "$1" | head -c "$(( size - $2 ))"'

    def __init__(self, transport: Transport, path: str) -> None:
        self.transport, self.path = transport, path
        self.offset = 0
        self.rewound = False
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def read_new(self) -> str | None:
        """Text added since the last call ("" if none); None while the file does not exist."""
        self.rewound = False
        if isinstance(self.transport, LocalTransport):
            try:
                with open(self.path, "rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    if size < self.offset:
                        self.offset, self.rewound = size, True
                    f.seek(self.offset)
                    data = f.read(size - self.offset)
            except OSError:
                return None
            self.offset += len(data)
            return self._decoder.decode(data)
        done = self.transport.run(["sh", "-c", self._REMOTE, "sh", self.path, str(self.offset)])
        size_line, _, text = done.stdout.partition("\n")
        if done.returncode != 0 or not size_line.strip().isdigit():
            return None
        size = int(size_line)
        if size < self.offset:
            self.offset, self.rewound = size, True
            return ""
        self.offset = size
        return text


@click.command()
@click.argument("job_id", metavar="JOB")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new output until the job ends.")
@click.option(
    "--stream",
    type=click.Choice(["out", "err", "both"]),
    default="both",
    show_default=True,
    help="Which of the job's streams to print.",
)
def logs(job_id: str, follow: bool, stream: str) -> None:
    """Print the stdout/stderr of a job's elements, read through its target's transport.

    JOB is a job id (every element of an array) or JOBID.N (the element that ran call N).
    Logs live in the job's directory on the execution host; after a successful job that
    directory is removed unless the job ran with keep_files=True.

    \b
    Examples:
      clustrix logs c18f3a2b1c4d5e6
      clustrix logs c18f3a2b1c4d5e6.4 --stream err --follow
    """
    store = store_here()
    job, index, row = store.resolve(job_id)
    recorded = Recorded.of(job, row["state"])
    transport = recorded.target.transport
    elements = [job.element_of(index)] if index is not None else list(range(job.n_elements))
    streams = ["out", "err"] if stream == "both" else [stream]
    paths = [(e, s, job.remote_log(e, s)) for e in elements for s in streams]
    readers = {path: LogReader(transport, path) for _, _, path in paths}
    seen: dict[str, int] = {}
    while True:
        for element, name, path in paths:
            text = readers[path].read_new()
            if text is None:
                continue
            if readers[path].rewound:
                click.echo(f"[clustrix: {path} was cut (max_log_bytes); following its new end]", err=True)
            if not text:
                continue
            if len(paths) > 1 and (follow or seen.get(path) is None):
                click.echo(f"==> {job.job_id} element {element} std{name} <==")
            click.echo(text, nl=False)
            seen[path] = readers[path].offset
        if not follow or recorded.state.terminal or not recorded.watched.open_elements:
            break
        time.sleep(1.0)
        poll_once([recorded])
        if not recorded.watched.open_elements:
            recorded.state = State.COMPLETED
    if not seen:
        click.echo(
            f"no output from {job_id} (state {store.row(job.job_id)['state']}): nothing written yet, "
            "or its job directory was removed after success (keep_files=True keeps it)",
            err=True,
        )


@click.command()
@click.argument("job_ids", nargs=-1, required=True, metavar="JOB...")
def cancel(job_ids: tuple[str, ...]) -> None:
    """Cancel jobs wherever they run (one cancel request per job) and record it.

    A job already finished is left as it is. One call of a `.map()` array cannot be
    cancelled alone from here: cancel the whole job. Exits 1 if any id is unknown or a
    backend could not cancel.

    \b
    Examples:
      clustrix cancel c18f3a2b1c4d5e6
      clustrix jobs --state PENDING --json | jq -r '.[].job_id' | xargs clustrix cancel
    """
    store = store_here()
    problems = []
    for some_id in job_ids:
        try:
            job, index, row = store.resolve(some_id)
        except JobNotFound as exc:
            problems.append(str(exc))
            continue
        if job.is_array and index is not None:
            problems.append(
                f"{some_id} is one call of array job {job.job_id}; cancel the whole job: `clustrix cancel {job.job_id}`"
            )
            continue
        if State(row["state"]).terminal:
            click.echo(f"{job.job_id} already ended ({row['state']}); nothing to cancel")
            continue
        try:
            target = Recorded.of(job, row["state"]).target
            target.hooks.clustrix_cancel(jobs=[job], target=target)
        except Exception as exc:  # report and go on with the other jobs
            problems.append(f"could not cancel {job.job_id}: {type(exc).__name__}: {exc}")
            continue
        store.set_job_state(job.job_id, State.CANCELLED)
        click.echo(f"cancelled {job.job_id}")
        for child in dependencies.cancel_dependents(target, job, elementwise_too=True):
            store.set_job_state(child, State.CANCELLED)
            click.echo(f"cancelled {child} (it waited for {job.job_id})")
    if problems:
        raise Failed("\n".join(problems))


COMMANDS = [jobs, status, result, logs, cancel]
