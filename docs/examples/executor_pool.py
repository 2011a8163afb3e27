"""Code written for concurrent.futures, moved to a cluster by changing one line."""

import math

import clustrix


def is_prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, math.isqrt(n) + 1))


if __name__ == "__main__":
    numbers = [112272535095293, 112582705942171, 115280095190773, 115797848077099, 1099726899285419]
    # was: with concurrent.futures.ProcessPoolExecutor() as pool:
    with clustrix.Executor(cores=1, memory="256MB", time="00:10:00") as pool:
        for n, prime in zip(numbers, pool.map(is_prime, numbers, chunksize=2), strict=True):
            print(f"{n} is prime: {prime}")
        future = pool.submit(math.factorial, 20)
        print("20! =", future.result(timeout=600))
