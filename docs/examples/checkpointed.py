"""A call longer than its time limit: each attempt resumes from the last checkpoint."""

from clustrix import checkpoint, cluster


@cluster(memory="256MB", time="8s", retries=4)
def count(to: int) -> int:
    import time

    done = checkpoint.load(default=0)  # the last save of this call, in any attempt; else 0
    while done < to:
        time.sleep(0.5)  # half a second of work
        done += 1
        checkpoint.save(done)  # atomic, signed, in the job's directory where it runs
        if checkpoint.stopping():  # the scheduler warned: return now, the call is requeued
            return done
    return done


if __name__ == "__main__":
    future = count.submit(30)  # 15 s of work, 8 s per attempt: done in 2 to 4 attempts
    print(future.result())
    print(future.attempts[0].state, "->", future.attempts[-1].state)
