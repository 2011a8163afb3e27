"""A job that fails: the function's own exception comes back with its type and remote traceback."""

from clustrix import cluster


@cluster(memory="256MB", time="00:05:00")
def parse_reading(line: str) -> float:
    _, value = line.split("=")
    return float(value)


if __name__ == "__main__":
    print(parse_reading("temperature=21.5"))
    try:
        parse_reading("temperature=warm")
    except ValueError as exc:  # the same type the function raised, not a wrapper
        print(f"{type(exc).__name__}: {exc}")
        for note in exc.__notes__:  # the traceback from where it ran
            print(note)
