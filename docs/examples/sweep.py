"""A hyperparameter sweep: one call per (learning rate, L2 penalty) pair, all in one .map()."""

import itertools
import random

from clustrix import cluster


def make_data(n: int = 200, seed: int = 0) -> list[tuple[float, float]]:
    """Noisy points on the line y = 3x + 1."""
    rng = random.Random(seed)
    return [(x, 3 * x + 1 + rng.gauss(0, 0.1)) for x in (rng.uniform(-1, 1) for _ in range(n))]


@cluster(cores=1, memory="256MB", time="00:10:00")
def validation_loss(learning_rate: float, l2: float, epochs: int = 200) -> float:
    """Fit y = w*x + b by gradient descent; return the mean squared error on held-out data."""
    train, valid = make_data(seed=1), make_data(seed=2)
    w = b = 0.0
    for _ in range(epochs):
        grad_w = sum(2 * (w * x + b - y) * x for x, y in train) / len(train) + 2 * l2 * w
        grad_b = sum(2 * (w * x + b - y) for x, y in train) / len(train)
        w, b = w - learning_rate * grad_w, b - learning_rate * grad_b
    return sum((w * x + b - y) ** 2 for x, y in valid) / len(valid)


if __name__ == "__main__":
    grid = list(itertools.product([0.01, 0.1, 0.5], [0.0, 0.01, 0.1]))
    rates, penalties = zip(*grid, strict=True)
    futures = validation_loss.map(rates, penalties, max_concurrent=4)  # at most 4 run at once
    losses = {params: f.result(timeout=600) for params, f in zip(grid, futures, strict=True)}

    for (rate, l2), loss in sorted(losses.items(), key=lambda item: item[1])[:3]:
        print(f"learning_rate={rate:<5} l2={l2:<5} validation MSE {loss:.4f}")
