"""Submit and exit: the job runs on without this process, recorded in the job store."""

from clustrix import cluster


@cluster(memory="256MB", time="00:10:00")
def slow_sum(n: int) -> int:
    import time

    time.sleep(2)
    return sum(range(n))


if __name__ == "__main__":
    future = slow_sum.submit(1_000_000)
    print(future.job_id)  # keep this id: it is all you need to get the result later
