"""On the local backend, a call whose process dies fails alone and its error names the signal."""

from __future__ import annotations

import pytest

from clustrix import cluster
from clustrix.errors import JobFailed


@pytest.mark.parametrize(
    ("crash", "signal_name"),
    [("segfault", "SIGSEGV"), ("sigkill", "SIGKILL"), ("abort", "SIGABRT")],
)
def test_one_crashing_call_fails_alone_naming_its_signal(crash: str, signal_name: str) -> None:
    @cluster(cluster_type="local")
    def work(x: int) -> int:
        if x == 2:
            import ctypes
            import os
            import signal

            if crash == "segfault":
                ctypes.string_at(0)  # reads address 0: a real segmentation fault
            elif crash == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            else:
                os.abort()
        return x * 10

    futures = work.map(range(8))
    assert [f.result(timeout=60) for i, f in enumerate(futures) if i != 2] == [0, 10, 30, 40, 50, 60, 70]
    with pytest.raises(JobFailed) as info:
        futures[2].result(timeout=60)
    assert signal_name in str(info.value)
    assert "no error information" not in str(info.value)


def test_a_crashing_single_call_names_its_signal() -> None:
    @cluster(cluster_type="local")
    def crash() -> None:
        import ctypes

        ctypes.string_at(0)

    with pytest.raises(JobFailed, match="killed by signal SIGSEGV"):
        crash()


def test_exit_without_result_names_the_exit_code() -> None:
    @cluster(cluster_type="local")
    def leave(x: int) -> int:
        import os

        if x == 1:
            os._exit(7)
        return x

    futures = leave.map([0, 1])
    assert futures[0].result(timeout=60) == 0
    with pytest.raises(JobFailed, match="exited with code 7"):
        futures[1].result(timeout=60)


def test_threads_mode_crash_names_the_signal_for_the_calls_it_took_down() -> None:
    """In threads mode the elements share one process: the calls that had not finished
    fail, each naming the signal; none is left waiting."""

    @cluster(cluster_type="local", executor="threads")
    def work(x: int) -> int:
        import os
        import signal
        import time

        if x == 1:
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGKILL)
        return x

    outcomes: list[object] = []
    for future in work.map(range(2)):
        try:
            outcomes.append(future.result(timeout=60))
        except JobFailed as exc:
            outcomes.append("killed by signal SIGKILL" in str(exc))
    assert outcomes[1] is True
    assert outcomes[0] in (0, True)  # returned, or taken down with its process and saying so
