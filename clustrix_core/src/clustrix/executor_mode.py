"""The local executor's choice of threads or processes, as a chain of hook implementations:
an explicit choice wins; unpicklable work -> threads; work that looks I/O-bound -> threads;
otherwise processes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import cloudpickle

from .hookspecs import hookimpl

IO_NAMES = frozenset(
    [
        "open",
        "urlopen",
        "urlretrieve",
        "request",
        "get",
        "post",
        "put",
        "sleep",
        "recv",
        "send",
        "sendall",
        "connect",
        "accept",
        "read_csv",
        "read_text",
        "write_text",
        "read_bytes",
        "write_bytes",
        "requests",
        "socket",
        "subprocess",
    ]
)


def _names(code: Any) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= _names(const)
    return names


class ExplicitMode:
    @hookimpl(tryfirst=True)
    def clustrix_executor_mode(
        self, func: Callable[..., Any], requested: str | None, sample: Sequence[Any]
    ) -> str | None:
        return requested


class UnpicklableWork:
    @hookimpl
    def clustrix_executor_mode(
        self, func: Callable[..., Any], requested: str | None, sample: Sequence[Any]
    ) -> str | None:
        try:
            cloudpickle.dumps((func, list(sample)))
        except Exception:
            return "threads"
        return None


class IOBoundWork:
    @hookimpl
    def clustrix_executor_mode(
        self, func: Callable[..., Any], requested: str | None, sample: Sequence[Any]
    ) -> str | None:
        code = getattr(func, "__code__", None)
        if code is not None and _names(code) & IO_NAMES:
            return "threads"
        return None


class ProcessesByDefault:
    @hookimpl(trylast=True)
    def clustrix_executor_mode(self, func: Callable[..., Any], requested: str | None, sample: Sequence[Any]) -> str:
        return "processes"
