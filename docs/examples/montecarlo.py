"""Estimate pi with independent Monte Carlo calls: one job array on a scheduler."""

import random

from clustrix import cluster


@cluster(cores=1, memory="256MB", time="00:10:00")
def count_inside(seed: int, samples: int) -> int:
    """Throw ``samples`` random points at the unit square; count those inside the quarter circle."""
    rng = random.Random(seed)
    return sum(1 for _ in range(samples) if rng.random() ** 2 + rng.random() ** 2 <= 1.0)


if __name__ == "__main__":
    calls, samples = 8, 100_000
    futures = count_inside.map(range(calls), [samples] * calls)
    print(f"submitted {len(futures)} calls; the first is {futures[0].job_id}")

    inside = sum(f.result(timeout=600) for f in futures)
    print(f"pi is about {4 * inside / (calls * samples):.4f} from {calls * samples:,} points")
