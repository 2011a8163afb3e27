"""Local backend vs ProcessPoolExecutor.map and joblib, side by side in one run.

    python benchmarks/local.py             (or: nox -s bench)
    python benchmarks/local.py --million   part (d) alone (--calls N: another size)

(a) 10,000 tiny tasks; (b) a CPU-bound loop split into chunks. Each contender runs
the same work on this machine; times are the best of 3 and ratios are against
Clustrix (a ratio > 1 means the peer is slower). (d) a 1,000,000-call ``.map()`` with
default settings (64 elements): the time ``.map()`` takes to return, the time until
every result is read, and the client's peak RSS, each contender once in a fresh process
(so nothing else it ran counts in its RSS); goal: submit <= 10 s, RSS <= 600 MiB.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

N_TINY = 10_000
LOOP = 40_000_000
CHUNKS = 8
N_MILLION = 1_000_000
#: (d)'s goal, from issue 15
MILLION_SUBMIT_S, MILLION_RSS_MIB = 10.0, 600.0


def tiny(x: int) -> int:
    return x + 1


def burn(start: int, stop: int) -> int:
    total = 0
    for i in range(start, stop):
        total += i * i % 7
    return total


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _million_child(contender: str, n: int) -> dict[str, float]:
    """One contender's run of (d), in this fresh process: submit and result times, peak RSS."""
    if contender == "clustrix":
        from clustrix import cluster

        ctiny = cluster(tiny)
        assert ctiny.map(range(2))[1].result() == 2  # the worker's first start is not what (d) measures
        start = time.perf_counter()
        futures = ctiny.map(range(n))
        submitted = time.perf_counter()
        values = [f.result() for f in futures]
    else:
        with ProcessPoolExecutor(os.cpu_count() or 1) as ex:
            assert list(ex.map(tiny, range(2))) == [1, 2]
            start = time.perf_counter()
            results = ex.map(tiny, range(n), chunksize=math.ceil(n / 64))  # as many chunks as our elements
            submitted = time.perf_counter()
            values = list(results)
    done = time.perf_counter()
    assert len(values) == n and values[-1] == n
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"submit": submitted - start, "results": done - start, "rss": rss}


def million(n: int = N_MILLION) -> None:
    """(d): each contender in a fresh process, side by side."""
    runs = {}
    for contender in ("clustrix", "ProcessPoolExecutor.map"):
        out = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--child", contender, "--calls", str(n)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        runs[contender] = json.loads(out.strip().splitlines()[-1])
    ours = runs["clustrix"]
    met = ours["submit"] <= MILLION_SUBMIT_S and ours["rss"] <= MILLION_RSS_MIB
    print(
        f"(d) {n:,}-call .map(), default settings, one fresh process each: clustrix submit {ours['submit']:.2f} s, "
        f"all results {ours['results']:.2f} s, peak RSS {ours['rss']:.0f} MiB "
        f"(goal: submit <= {MILLION_SUBMIT_S:g} s, RSS <= {MILLION_RSS_MIB:g} MiB: {'met' if met else 'NOT met'})"
    )
    peer = runs["ProcessPoolExecutor.map"]
    print(
        f"    {'ProcessPoolExecutor.map':<24} submit {peer['submit']:.2f} s, all results {peer['results']:.2f} s "
        f"ratio {peer['results'] / ours['results']:.2f}, peak RSS {peer['rss']:.0f} MiB "
        f"ratio {peer['rss'] / ours['rss']:.2f}  (chunksize {math.ceil(n / 64):,})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--million", action="store_true", help="run part (d) alone")
    parser.add_argument("--calls", type=int, default=N_MILLION, help="calls in (d)'s map")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("CLUSTRIX_HOME", tempfile.mkdtemp(prefix="clustrix-bench-"))
    if args.child:
        print(json.dumps(_million_child(args.child, args.calls)))
        return
    if args.million:
        million(args.calls)
        return
    import joblib

    from clustrix import LocalExecutor, cluster

    workers = os.cpu_count() or 1
    ctiny = cluster(tiny)
    cburn = cluster(burn)
    bounds = [(i * LOOP // CHUNKS, (i + 1) * LOOP // CHUNKS) for i in range(CHUNKS)]
    expected_tiny = [x + 1 for x in range(N_TINY)]

    def clustrix_tiny():
        assert [f.result() for f in ctiny.map(range(N_TINY))] == expected_tiny

    def pool_tiny():
        with ProcessPoolExecutor(workers) as ex:
            assert list(ex.map(tiny, range(N_TINY))) == expected_tiny

    def joblib_tiny():
        assert joblib.Parallel(n_jobs=workers)(joblib.delayed(tiny)(x) for x in range(N_TINY)) == expected_tiny

    def clustrix_burn():
        return sum(f.result() for f in cburn.map(*zip(*bounds, strict=True)))

    def executor_burn():
        return sum(LocalExecutor(workers, mode="processes").execute_parallel(burn, bounds))

    def pool_burn():
        with ProcessPoolExecutor(workers) as ex:
            return sum(ex.map(burn, *zip(*bounds, strict=True)))

    def joblib_burn():
        return sum(joblib.Parallel(n_jobs=workers)(joblib.delayed(burn)(a, b) for a, b in bounds))

    assert clustrix_burn() == pool_burn() == executor_burn() == joblib_burn()
    print(f"local backend vs peers on {workers} cores (best of 3; ratio = peer time / clustrix time)")
    for title, ours, peers in [
        (f"(a) {N_TINY:,} tiny tasks", clustrix_tiny, {"ProcessPoolExecutor.map": pool_tiny, "joblib": joblib_tiny}),
        (
            f"(b) CPU-bound loop, {CHUNKS} chunks",
            clustrix_burn,
            {"LocalExecutor": executor_burn, "ProcessPoolExecutor.map": pool_burn, "joblib": joblib_burn},
        ),
    ]:
        base = best(ours)
        print(f"{title}: clustrix @cluster.map {base:.3f} s")
        for name, fn in peers.items():
            t = best(fn)
            print(f"    {name:<24} {t:.3f} s  ratio {t / base:.2f}")
    million(args.calls)


if __name__ == "__main__":
    main()
