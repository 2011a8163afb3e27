"""Local backend vs ProcessPoolExecutor.map and joblib, side by side in one run.

    python benchmarks/local.py        (or: nox -s bench)

(a) 10,000 tiny tasks; (b) a CPU-bound loop split into chunks. Each contender runs
the same work on this machine; times are the best of 3 and ratios are against
Clustrix (a ratio > 1 means the peer is slower).
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

N_TINY = 10_000
LOOP = 40_000_000
CHUNKS = 8


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


def main() -> None:
    os.environ.setdefault("CLUSTRIX_HOME", tempfile.mkdtemp(prefix="clustrix-bench-"))
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


if __name__ == "__main__":
    main()
