"""The local parallel executor: the mode chain and ordered results in both modes."""

from __future__ import annotations

import threading

import pytest

from clustrix import LocalExecutor


def cpu_work(x, power=2):
    return x**power


def io_work(path):
    with open(path) as f:
        return len(f.read())


def test_explicit_mode_wins():
    assert LocalExecutor(mode="threads").mode_for(cpu_work) == "threads"
    assert LocalExecutor(use_threads=False).mode_for(io_work) == "processes"


def test_unpicklable_work_runs_in_threads():
    lock = threading.Lock()
    assert LocalExecutor().mode_for(lambda: lock, [lock]) == "threads"


def test_io_bound_work_runs_in_threads():
    assert LocalExecutor().mode_for(io_work) == "threads"


def test_cpu_bound_work_runs_in_processes():
    assert LocalExecutor().mode_for(cpu_work) == "processes"


def test_bad_mode_is_rejected():
    with pytest.raises(ValueError, match="mode must be one of"):
        LocalExecutor(mode="fibers")


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_loop_parallel_keeps_order_in_both_modes(mode):
    result = LocalExecutor(max_workers=2, mode=mode).execute_loop_parallel(
        cpu_work, "x", range(50), func_kwargs={"power": 3}, chunk_size=7
    )
    assert result == [x**3 for x in range(50)]


def test_loop_parallel_in_process_mode_accepts_a_lambda():
    offset = 10
    result = LocalExecutor(max_workers=2, mode="processes").execute_loop_parallel(lambda i: i + offset, "i", range(5))
    assert result == [10, 11, 12, 13, 14]


def test_process_mode_really_uses_other_processes():
    import os

    pids = LocalExecutor(max_workers=2, mode="processes").execute_parallel(os.getpid, [()] * 4)
    assert os.getpid() not in pids


def test_execute_parallel_with_args_and_kwargs():
    result = LocalExecutor(max_workers=2).execute_parallel(cpu_work, [(2,), (3,)], [{"power": 3}, {"power": 2}])
    assert result == [8, 9]


def test_loop_variable_twice_is_an_error():
    with pytest.raises(ValueError, match="'x' is the loop variable"):
        LocalExecutor().execute_loop_parallel(cpu_work, "x", [1], func_kwargs={"x": 2})


def test_exception_in_a_chunk_is_reraised():
    with pytest.raises(ZeroDivisionError):
        LocalExecutor(max_workers=2, mode="processes").execute_loop_parallel(lambda x: 1 / x, "x", [1, 0, 2])
