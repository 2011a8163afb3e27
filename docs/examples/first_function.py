"""Getting started: the first decorated function (runs on the local backend with no configuration)."""

from clustrix import cluster


@cluster(cores=1, memory="256MB", time="00:05:00")
def square(x: int) -> int:
    return x * x


if __name__ == "__main__":
    print(square(7))  # blocks until the job is done, like a normal call

    future = square.submit(8)  # returns at once: a concurrent.futures.Future
    print(future.result(timeout=300))

    futures = square.map(range(5))  # one future per input, in input order
    print([f.result(timeout=300) for f in futures])
