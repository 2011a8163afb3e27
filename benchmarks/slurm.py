"""SLURM backend vs the floor and vs submitit, side by side in one run on the same Slurm.

    python benchmarks/slurm.py [--repeat 10] [--map-repeat 3] [--calls 10000] [--submitit-calls 500]
                               [--sleepers 64] [--outstanding 500] [--minutes 3]   (or: nox -s bench)

(a) one trivial call, end to end: the floor is `sbatch --parsable` of a trivial script
then `squeue -j ID` every 50 ms until the job is gone; submitit is
``executor.submit(f, x).result()``; Clustrix is ``f(x)`` with ``@cluster(cluster_type="slurm")``.
slurmctld starts jobs on a one-second tick, so a call's time is mostly how far it was
submitted from the next tick: a contender submitted right after the one before it ended
(just after a tick) waits almost a whole second. Each run therefore submits all three at the
same phase of the tick (learnt from the floor script's start time), phases spread evenly
over the second across the ``--repeat`` runs; mean and median reported.
(b) many tiny calls: ``f.map(range(N))`` with default settings (array tasks that claim
elements, see ``clustrix.lifecycle.packing``) vs the same map hand-packed with each
``tasks_per_job`` of a list (one array task per element), and vs submitit's
``map_array``, which launches one array task per call, in calls per second.
(b') ``--sleepers`` calls of ``time.sleep(5)``: default settings vs one call per element.
Between two measures the queue is left to empty, so that no tail of a measure slows the next.
(c) the polling budget: ``--outstanding`` held jobs watched for ``--minutes``; status
commands (squeue, sacct, scontrol, counted by shims first on PATH) per minute after the
first minute, and how long after its result file appears a call's future settles.
Needs a running Slurm with accounting (submitit polls sacct); ``pip install submitit``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MEMORY = "256M"


def inc(x: int) -> int:
    return x + 1


def floor_call(workdir: Path) -> float:
    """The least any tool can do: submit a trivial script, poll squeue every 50 ms until it is
    gone. Returns when the script started (a moment just after one of slurmctld's ticks)."""
    script, started = workdir / "floor.sh", workdir / "floor.started"
    if not script.exists():
        script.write_text(f"#!/bin/bash\ndate +%s.%N > {started}\n")
    argv = ["sbatch", "--parsable", f"--mem={MEMORY}", "-o", "/dev/null", "-e", "/dev/null", str(script)]
    job_id = subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip().split(";")[0]
    while subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%i"], capture_output=True, text=True).stdout.strip():
        time.sleep(0.05)
    return float(started.read_text())


def at_phase(tick: float, phase: float) -> None:
    """Sleep until ``phase`` seconds past one of slurmctld's one-second ticks (``tick`` is one)."""
    time.sleep((phase - (time.time() - tick)) % 1.0)


def wait_for(path: str) -> str:
    while not os.path.exists(path):
        time.sleep(0.05)
    return path


def polling_budget(workdir: Path, outstanding: int, minutes: float) -> None:
    log, shims = workdir / "status-commands.log", workdir / "shims"
    shims.mkdir()
    for name in ("squeue", "sacct", "scontrol"):
        (shims / name).write_text(f'#!/bin/sh\necho "$(date +%s.%N)" >> {log}\nexec {shutil.which(name)} "$@"\n')
        (shims / name).chmod(0o755)
    os.environ["PATH"] = f"{shims}:{os.environ['PATH']}"
    from clustrix import cluster

    held = cluster(inc, cluster_type="slurm", memory=MEMORY, extra_directives=["--hold"])
    waiter = cluster(wait_for, cluster_type="slurm", memory=MEMORY)
    trigger = workdir / "go"
    futures = [held.submit(i) for i in range(outstanding)]
    probe = waiter.submit(str(trigger))
    start = time.time()
    end = start + minutes * 60
    time.sleep(max(0.0, end - 5 - time.time()))
    trigger.touch()
    probe.result()
    noticed = time.time()
    result_file = probe.job.result_path(0)
    latency = noticed - result_file.stat().st_mtime
    subprocess.run(["scancel", *{f.native_id for f in futures}], check=False)
    stamps = [float(line) for line in log.read_text().split()] if log.exists() else []
    after = [t for t in stamps if start + 60 <= t <= noticed]
    gaps = [b - a for a, b in itertools.pairwise(after)]
    print(f"(c) polling budget: {outstanding + 1} jobs outstanding for {minutes:g} min")
    print(
        f"    after the first minute: {len(after)} status commands in {noticed - start - 60:.0f} s, "
        f"at least {min(gaps, default=float('nan')):.1f} s apart (target: <= 2 per minute, i.e. >= 30 s apart)"
    )
    print(f"    result noticed {latency:.2f} s after its file appeared (target <= 2)")


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def drained() -> None:
    """Wait until this user has no job left in the queue (workers that found nothing to claim)."""
    user = os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    while subprocess.run(["squeue", "-h", "-u", user, "-o", "%i"], capture_output=True, text=True).stdout.strip():
        time.sleep(0.5)


def rates(
    f: Callable[..., Any], n: int, settings: list[dict[str, Any]], repeat: int, tick: float
) -> list[tuple[float, Any]]:
    """For each settings: calls per second of ``f.map(range(n), **settings)`` (all results
    checked), from the median time over ``repeat`` runs, and the job of its last run. Runs
    are interleaved so that a busy moment hits all alike, and in run r every map is submitted
    at the same phase (r + 0.5) / repeat of slurmctld's tick, as in (a)."""
    runs: list[list[float]] = [[] for _ in settings]
    jobs: list[Any] = [None] * len(settings)
    for r in range(repeat):
        for i, options in enumerate(settings):
            at_phase(tick, (r + 0.5) / repeat)
            start = time.perf_counter()
            futures = f.map(range(n), **options)
            assert [x.result() for x in futures] == [x + 1 for x in range(n)]
            runs[i].append(time.perf_counter() - start)
            jobs[i] = futures[0].job
            drained()
    return [(n / statistics.median(r), job) for r, job in zip(runs, jobs, strict=True)]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="runs of (a), at phases spread over the tick")
    parser.add_argument("--map-repeat", type=int, default=3, help="runs of each map in (b), median reported")
    parser.add_argument("--calls", type=int, default=10_000, help="tiny calls in (b)")
    parser.add_argument("--submitit-calls", type=int, default=500, help="calls for submitit in (b)")
    parser.add_argument(
        "--hand", type=int, nargs="*", default=[5000, 1000, 250], help="tasks_per_job values to compare in (b)"
    )
    parser.add_argument("--sleepers", type=int, default=64, help="calls of time.sleep(5) in (b')")
    parser.add_argument(
        "--parts", nargs="*", default=["a", "b", "sleepers", "budget"], help="which of (a) (b) (b') (c) to run"
    )
    parser.add_argument("--outstanding", type=int, default=500, help="held jobs watched in (c)")
    parser.add_argument("--minutes", type=float, default=3.0, help="how long (c) watches them (> 1)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="clustrix-bench-slurm-"))
    workdir.chmod(0o755)
    os.environ.setdefault("CLUSTRIX_HOME", str(workdir / "home"))

    import submitit

    from clustrix import cluster

    slurm_inc = cluster(inc, cluster_type="slurm", memory=MEMORY)
    executor = submitit.AutoExecutor(folder=workdir / "submitit", cluster="slurm")
    executor.update_parameters(timeout_min=10, slurm_mem=MEMORY, cpus_per_task=1, slurm_array_parallelism=1000)

    assert slurm_inc(1) == 2 and executor.submit(inc, 1).result() == 2  # warm up both (imports, plugin load)
    tick = floor_call(workdir)

    if "a" in args.parts:
        floor = "floor (sbatch + squeue every 50 ms)"
        contenders: dict[str, Callable[[], object]] = {
            floor: lambda: floor_call(workdir),
            "clustrix f(x)": lambda: slurm_inc(1),
            "submitit": lambda: executor.submit(inc, 1).result(),
        }
        runs: dict[str, list[float]] = {name: [] for name in contenders}
        for r in range(args.repeat):
            for name, call in contenders.items():
                at_phase(tick, (r + 0.5) / args.repeat)
                runs[name].append(timed(call))
        mean = {name: statistics.fmean(times) for name, times in runs.items()}
        median = {name: statistics.median(times) for name, times in runs.items()}
        ours = mean["clustrix f(x)"]
        print(
            f"(a) one trivial call, {args.repeat} runs each submitted at the same phases of slurmctld's "
            "one-second tick (ratio = mean / clustrix mean)"
        )
        for name in contenders:
            print(
                f"    {name:40s} mean {mean[name]:5.2f} s  median {median[name]:5.2f} s   ratio {mean[name] / ours:5.2f}"
            )
        print(
            f"    clustrix / floor = {ours / mean[floor]:.2f} (means), "
            f"{median['clustrix f(x)'] / median[floor]:.2f} (medians) (target <= 1.0)"
        )

    if "b" in args.parts:
        n, m = args.calls, args.submitit_calls
        drained()
        measured = rates(slurm_inc, n, [{}, *({"tasks_per_job": size} for size in args.hand)], args.map_repeat, tick)
        (ours_rate, job), hand = measured[0], {size: r for size, (r, _) in zip(args.hand, measured[1:], strict=True)}
        workers = job.settings.get("array_workers") or "one per element"
        start = time.perf_counter()
        jobs = executor.map_array(inc, range(m))
        assert [j.result() for j in jobs] == [x + 1 for x in range(m)]
        submitit_rate = m / (time.perf_counter() - start)
        drained()
        best = max(hand, key=lambda size: hand[size])
        print(
            f"(b) tiny calls through one array, median of {args.map_repeat} (calls/s; ratio = default clustrix rate / that rate)"
        )
        print(
            f"    clustrix .map({n}), default: {job.n_elements} elements, workers {workers}   {ours_rate:9.1f} calls/s"
        )
        for size, value in hand.items():
            print(
                f"    clustrix .map({n}, tasks_per_job={size:<5})            {value:9.1f} calls/s   ratio {ours_rate / value:6.2f}"
            )
        print(
            f"    submitit map_array({m})                         {submitit_rate:9.1f} calls/s   ratio {ours_rate / submitit_rate:6.0f}"
        )
        print(f"    target: ratio >= 0.8 to the best hand-tuned (tasks_per_job={best}), >= 1000 to submitit")

    if "sleepers" in args.parts:
        slurm_nap = cluster(nap, cluster_type="slurm", memory=MEMORY)
        times = {}
        for label, options in (("default", {}), ("one call per element", {"tasks_per_job": 1})):
            start = time.perf_counter()
            naps = slurm_nap.map([5.0] * args.sleepers, **options)
            assert sum(f.result() for f in naps) == 5.0 * args.sleepers
            times[label] = time.perf_counter() - start
            drained()
        print(f"(b') {args.sleepers} calls of time.sleep(5)")
        for label, value in times.items():
            print(f"    {label:24s} {value:7.1f} s")
        print(f"    default / one per element = {times['default'] / times['one call per element']:.2f} (target <= 1.1)")
    if "budget" in args.parts:
        polling_budget(workdir, args.outstanding, args.minutes)


if __name__ == "__main__":
    main()
