"""A three-stage pipeline: each stage is submitted at once, and waits on the cluster."""

from clustrix import DependencyFailed, cluster


@cluster(memory="256MB", time="00:10:00")
def preprocess(shard: int) -> list[float]:
    """Stands for reading and cleaning one shard of the data."""
    return [shard + i / 10 for i in range(10)]


@cluster(memory="256MB", time="00:10:00")
def train(data: list[float], lr: float) -> float:
    """Stands for training one model on one shard: gets the shard's values, not a future."""
    return sum(data) * lr


@cluster(memory="256MB", time="00:10:00")
def summarize(models: list[float]) -> str:
    return f"{len(models)} models, best score {max(models):.2f}"


@cluster(memory="256MB", time="00:10:00")
def check(shard: int) -> int:
    if shard == 2:
        raise ValueError(f"shard {shard} is corrupt")
    return shard


if __name__ == "__main__":
    shards = preprocess.map(range(8))  # one array job
    models = train.map(shards, [0.5] * 8)  # submitted now: element i waits for shard i
    report = summarize.submit(models)  # waits for all 8, gets a list of floats
    print(report.result(timeout=600))

    checked = check.map(range(4))
    try:
        summarize.submit(checked).result(timeout=600)
    except DependencyFailed as exc:
        print(f"{type(exc).__name__}: waited for {exc.parent_id}, which raised {exc.__cause__}")
