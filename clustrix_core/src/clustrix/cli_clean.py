"""`clustrix clean`: remove finished jobs' remote and local directories and their records."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from pathlib import Path

import click

from .cli_output import Age, Failed, echo_json
from .job import State
from .job_access import Recorded, refresh, store_here
from .store import Store

#: a blob younger than this may belong to a job being packaged right now
BLOB_GRACE_SECONDS = 3600


def _remove_remote(recorded: Recorded) -> None:
    job, target = recorded.job, recorded.target
    if str(job.local_dir) != job.remote_dir:
        target.hooks.clustrix_cleanup(job=job, target=target)


def _unreferenced_blobs(home: Path, now: float) -> list[Path]:
    """Local payload blobs no remaining job directory refers to (and old enough to be safe)."""
    blobs = home / "blobs"
    if not blobs.is_dir():
        return []
    used: set[str] = set()
    for manifest in (home / "jobs").glob("*/manifest.json"):
        try:
            data = json.loads(manifest.read_text())
        except (OSError, ValueError):
            return []  # a job dir being written: collect nothing this time
        used.add(data["function"])
        used.update(e["blob"] for e in data["elements"])
    return [
        p
        for p in blobs.iterdir()
        if p.name not in used and not p.name.startswith(".") and now - p.stat().st_mtime > BLOB_GRACE_SECONDS
    ]


def _refresh_old_live_jobs(store: Store, cutoff: float) -> None:
    """Ask backends about jobs recorded live before the cutoff: some ended unwatched."""
    stale = [
        r["job_id"]
        for r in store.jobs(state=[s.value for s in State if not s.terminal], limit=None)
        if r["created"] < cutoff
    ]
    for warning in refresh(store, stale):
        click.echo(f"warning: {warning}", err=True)


@click.command()
@click.option(
    "--older-than",
    type=Age(),
    default="0s",
    show_default=True,
    help="Only jobs that ended at least this long ago, e.g. 7d.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list of the removed jobs.")
def clean(older_than: float, dry_run: bool, as_json: bool) -> None:
    """Remove finished jobs: remote job directories, local ones, and their job-store records.

    Only jobs in a final state (COMPLETED, FAILED, CANCELLED, TIMEOUT, ...) are touched;
    jobs recorded as live before the cutoff are first checked with their backend, since
    they may have ended while nobody watched. Local payload blobs no remaining job uses
    are removed too. A job whose remote directory cannot be removed (host unreachable,
    backend not installed) keeps its record, so a later `clustrix clean` retries; the
    exit code is then 1.

    \b
    Examples:
      clustrix clean --older-than 7d
      clustrix clean --dry-run
    """
    store = store_here()
    now = time.time()
    cutoff = now - older_than
    _refresh_old_live_jobs(store, cutoff)
    removed, problems = [], []
    for row in store.finished_before(cutoff):
        job, _, state = store.job(row["job_id"])
        if dry_run:
            removed.append(job.job_id)
            continue
        try:
            _remove_remote(Recorded.of(job, state))
        except Exception as exc:  # keep the record: the remote files are still there
            problems.append(f"{job.job_id}: could not remove {job.remote_dir}: {type(exc).__name__}: {exc}")
            continue
        shutil.rmtree(job.local_dir, ignore_errors=True)
        store.delete([job.job_id])
        removed.append(job.job_id)
    blobs = [] if dry_run else _unreferenced_blobs(store.path.parent, now)
    for blob in blobs:
        with contextlib.suppress(FileNotFoundError):
            os.remove(blob)
    if as_json:
        echo_json({"removed": removed, "dry_run": dry_run, "blobs_removed": len(blobs), "problems": problems})
    else:
        verb = "would remove" if dry_run else "removed"
        click.echo(f"{verb} {len(removed)} finished job(s)" + (": " + " ".join(removed) if removed else ""))
        if blobs:
            click.echo(f"removed {len(blobs)} unused payload blob(s)")
    if problems:
        raise Failed("\n".join(problems))


COMMANDS = [clean]
