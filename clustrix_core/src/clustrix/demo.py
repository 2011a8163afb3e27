"""`clustrix demo`: a decorated function computed in other processes, with no configuration.

It uses the embedded local backend, so it runs on a fresh machine: the calls become one
job, recorded in the job store, run by a detached worker, and their results come back
through the same life cycle a cluster job goes through.
"""

from __future__ import annotations

import os
import time

import click

from .decorator import cluster


def count_inside(seed: int, samples: int) -> tuple[int, int]:
    """Throw ``samples`` random points at the unit square; count those inside the quarter circle."""
    import os
    import random

    rng = random.Random(seed)
    inside = sum(1 for _ in range(samples) if rng.random() ** 2 + rng.random() ** 2 <= 1.0)
    return inside, os.getpid()


@click.command()
@click.option("--calls", type=click.IntRange(1, 64), default=8, show_default=True, help="Parallel calls (.map).")
@click.option("--samples", type=click.IntRange(min=1), default=100_000, show_default=True, help="Points per call.")
def demo(calls: int, samples: int) -> None:
    """Estimate pi with a @cluster function on the local backend; no configuration needed.

    What it runs:

    \b
      @cluster(cluster_type="local")
      def count_inside(seed, samples): ...     # Monte Carlo: points inside the circle
      futures = count_inside.map(range(CALLS), [SAMPLES] * CALLS)
      pi = 4 * sum(f.result()[0] for f in futures) / (CALLS * SAMPLES)

    The calls run in a separate worker process (never in this one), are recorded in the
    job store, and can be looked at afterwards with `clustrix status JOB` and
    `clustrix result JOB`.

    \b
    Example:
      clustrix demo --calls 4 --samples 1000000
    """
    estimate = cluster(cluster_type="local")(count_inside)
    started = time.monotonic()
    futures = estimate.map(range(calls), [samples] * calls)
    job = futures[0].job
    click.echo(f"submitted job {job.job_id}: {calls} calls of count_inside to the local backend (pid {job.native_id})")
    answers = [f.result() for f in futures]
    inside = sum(hits for hits, _ in answers)
    pids = sorted({pid for _, pid in answers})
    click.echo(
        f"pi ~= {4 * inside / (calls * samples):.5f}  ({calls * samples:,} points, {time.monotonic() - started:.1f} s)"
    )
    click.echo(f"computed in process(es) {', '.join(map(str, pids))}; this process is {os.getpid()}")
    click.echo(f"job ids: {' '.join(f.job_id for f in futures)}")
    click.echo(f"try: clustrix status {job.job_id}   clustrix result {futures[-1].job_id}")
