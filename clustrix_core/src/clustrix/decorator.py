"""``@cluster``: call a function as usual, and it runs through the job life cycle."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar, overload

from . import lifecycle
from .config import check_decorator_kwargs
from .future import ClusterFuture
from .plugins import manager

R = TypeVar("R")


class ClusterFunction(Generic[R]):
    """A decorated function: ``f(...)`` blocks, ``f.submit(...)`` and ``f.map(...)`` return futures."""

    def __init__(self, func: Callable[..., R], options: dict[str, Any]) -> None:
        self.options = options
        functools.update_wrapper(self, func)
        self.__wrapped__ = func

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        """Run and wait; interrupted (Ctrl-C, a notebook's stop), the job is cancelled."""
        result: R = self.submit(*args, **kwargs).wait_or_cancel()
        return result

    def submit(self, *args: Any, **kwargs: Any) -> ClusterFuture:
        return lifecycle.submit(self.__wrapped__, [(args, kwargs)], self.options)[0]

    def map(self, *iterables: Iterable[Any], progress: bool = False, **options: Any) -> Sequence[ClusterFuture]:
        """One future per element, in input order, like the builtin ``map``: a
        :class:`~clustrix.FutureList`, which makes each future when it is taken.

        Where the backend has arrays, all calls go in one array job; ``options`` may set
        e.g. ``tasks_per_job`` or ``max_concurrent`` for this map only. ``progress=True``
        shows a bar until every call is done (see :func:`clustrix.wait`).
        """
        extra = check_decorator_kwargs(options, manager().settings())
        no_kwargs: dict[str, Any] = {}  # one for every call: a million maps would hold a million empty dicts
        calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [(a, no_kwargs) for a in zip(*iterables, strict=False)]
        if not calls:
            return []
        futures = lifecycle.submit(self.__wrapped__, calls, {**self.options, **extra})
        if progress:
            from .progress import track

            track(futures, desc=self.__wrapped__.__qualname__)
        return futures

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return functools.partial(self.__call__, obj)

    def __repr__(self) -> str:
        return f"<cluster function {self.__wrapped__.__qualname__} {self.options}>"


@overload
def cluster(func: Callable[..., R]) -> ClusterFunction[R]: ...


@overload
def cluster(func: None = None, **options: Any) -> Callable[[Callable[..., R]], ClusterFunction[R]]: ...


def cluster(func: Callable[..., R] | None = None, **options: Any) -> Any:
    """Run the decorated function through Clustrix; works bare or with settings.

    Keywords are any configuration key (``cores``, ``memory``, ``time``, ``partition``,
    ``cluster_type``, ``profile``, ...); an unknown one is a TypeError naming the valid
    ones, a malformed value a ConfigError, both raised here, at decoration.
    """
    checked = check_decorator_kwargs(options, manager().settings())

    def wrap(f: Callable[..., R]) -> ClusterFunction[R]:
        return ClusterFunction(f, checked)

    return wrap(func) if func is not None else wrap
