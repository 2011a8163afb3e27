"""A 3-stage pipeline on Slurm: Clustrix's scheduler dependencies vs the stages run by hand.

    python benchmarks/pipeline.py [--repeat 3] [--elements 100]    (or: nox -s bench)

Clustrix: ``c.submit(b.map(a.map(range(N))))``-like, three trivial N-element maps, each
submitted at once with the scheduler's own dependency (element-wise ``aftercorr`` between
the two maps, ``afterok`` for the last), timed from the first submit to the last result.
By hand: the same three stages as N-element arrays of a trivial script, each
``sbatch --wait`` after the previous one ended (what a user without dependencies does).
Median of ``--repeat`` runs, interleaved; ratio = Clustrix time / by-hand time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

MEMORY = "256M"


def inc(x: int) -> int:
    return x + 1


def total(values: list[int]) -> int:
    return sum(values)


def by_hand(workdir: Path, elements: int) -> None:
    script = workdir / "stage.sh"
    if not script.exists():
        script.write_text("#!/bin/bash\ntrue\n")
    for _ in range(2):
        argv = [
            "sbatch",
            "--wait",
            f"--array=0-{elements - 1}",
            f"--mem={MEMORY}",
            "-o",
            "/dev/null",
            "-e",
            "/dev/null",
        ]
        subprocess.run([*argv, str(script)], check=True, capture_output=True)
    argv = ["sbatch", "--wait", f"--mem={MEMORY}", "-o", "/dev/null", "-e", "/dev/null", str(script)]
    subprocess.run(argv, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, median reported")
    parser.add_argument("--elements", type=int, default=100, help="elements per map")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="clustrix-bench-pipeline-"))
    workdir.chmod(0o755)
    os.environ.setdefault("CLUSTRIX_HOME", str(workdir / "home"))

    from clustrix import cluster

    options = {"cluster_type": "slurm", "memory": MEMORY, "tasks_per_job": 1}
    stage, last = cluster(inc, **options), cluster(total, **options)
    n = args.elements

    def pipeline() -> None:
        assert last.submit(stage.map(stage.map(range(n)))).result(timeout=3600) == sum(range(2, n + 2))

    pipeline()  # warm up (imports, plugin load)
    runs: dict[str, list[float]] = {"by hand (sbatch --wait x3)": [], "clustrix pipeline": []}
    for _ in range(args.repeat):
        start = time.perf_counter()
        by_hand(workdir, n)
        runs["by hand (sbatch --wait x3)"].append(time.perf_counter() - start)
        start = time.perf_counter()
        pipeline()
        runs["clustrix pipeline"].append(time.perf_counter() - start)
    median = {name: statistics.median(times) for name, times in runs.items()}
    hand = median["by hand (sbatch --wait x3)"]
    print(f"3-stage pipeline of {n}-element maps on Slurm, median of {args.repeat} (ratio = time / by-hand time)")
    for name, value in median.items():
        print(f"    {name:30s} {value:7.2f} s   ratio {value / hand:5.2f}")


if __name__ == "__main__":
    main()
