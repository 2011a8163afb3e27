"""The local parallel executor: threads or processes, results in input order.

The mode comes from the ``clustrix_executor_mode`` hook chain: an explicit choice wins;
work that cannot be pickled runs in threads; work that looks I/O-bound runs in
threads; everything else in processes. Work is sent to processes with cloudpickle and
run by module-level functions, so lambdas, closures and chunked loops work in process
mode too.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import cloudpickle

MODES = ("threads", "processes")


def _run_pickled(payload: bytes) -> list[Any]:
    """Process-pool entry point: run one chunk of calls sent as a cloudpickle."""
    func, calls = cloudpickle.loads(payload)
    return [func(*args, **kwargs) for args, kwargs in calls]


def _run_direct(func: Callable[..., Any], calls: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> list[Any]:
    return [func(*args, **kwargs) for args, kwargs in calls]


class LocalExecutor:
    """Run calls in parallel on this machine.

    ``mode`` is ``"threads"``, ``"processes"`` or None (chosen per function);
    ``use_threads=True`` is the older spelling of ``mode="threads"``.
    """

    def __init__(
        self, max_workers: int | None = None, mode: str | None = None, use_threads: bool | None = None
    ) -> None:
        if use_threads is not None and mode is None:
            mode = "threads" if use_threads else "processes"
        if mode not in (None, *MODES):
            raise ValueError(f"mode must be one of {MODES} or None, not {mode!r}")
        self.max_workers = max_workers or os.cpu_count() or 1
        self.mode = mode

    def mode_for(self, func: Callable[..., Any], sample: Sequence[Any] = ()) -> str:
        from .plugins import manager

        chosen = manager().pm.hook.clustrix_executor_mode(func=func, requested=self.mode, sample=list(sample))
        return str(chosen)

    def run_calls(
        self,
        func: Callable[..., Any],
        calls: Sequence[tuple[tuple[Any, ...], dict[str, Any]]],
        chunk_size: int | None = None,
    ) -> list[Any]:
        """Run ``func(*args, **kwargs)`` for every call, in ordered chunks; results in order.

        The first exception raised by a call is re-raised here.
        """
        if not calls:
            return []
        mode = self.mode_for(func, [calls[0]])
        size = chunk_size or max(1, math.ceil(len(calls) / (self.max_workers * 4)))
        chunks = [list(calls[i : i + size]) for i in range(0, len(calls), size)]
        workers = min(self.max_workers, len(chunks))
        pool: Executor
        if mode == "threads":
            with ThreadPoolExecutor(workers) as pool:
                parts = list(pool.map(_run_direct, [func] * len(chunks), chunks))
        else:
            with ProcessPoolExecutor(workers) as pool:
                parts = list(pool.map(_run_pickled, [cloudpickle.dumps((func, c)) for c in chunks]))
        return [result for part in parts for result in part]

    def execute_parallel(
        self,
        func: Callable[..., Any],
        args_list: Iterable[Sequence[Any]],
        kwargs_list: Iterable[Mapping[str, Any]] | None = None,
    ) -> list[Any]:
        """``func(*args_list[i], **kwargs_list[i])`` for every i, in parallel, in order."""
        args = [tuple(a) for a in args_list]
        kwargs = [dict(k) for k in kwargs_list] if kwargs_list is not None else [{} for _ in args]
        if len(kwargs) != len(args):
            raise ValueError(f"args_list has {len(args)} items but kwargs_list has {len(kwargs)}")
        return self.run_calls(func, list(zip(args, kwargs, strict=True)))

    def execute_loop_parallel(
        self,
        func: Callable[..., Any],
        loop_var: str,
        iterable: Iterable[Any],
        func_args: Sequence[Any] = (),
        func_kwargs: Mapping[str, Any] | None = None,
        chunk_size: int | None = None,
    ) -> list[Any]:
        """``func(*func_args, **func_kwargs, loop_var=item)`` for each item, in ordered chunks."""
        base = dict(func_kwargs or {})
        if loop_var in base:
            raise ValueError(f"{loop_var!r} is the loop variable; do not also pass it in func_kwargs")
        calls = [(tuple(func_args), {**base, loop_var: item}) for item in iterable]
        return self.run_calls(func, calls, chunk_size)
