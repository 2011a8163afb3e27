"""Clustrix: decorate a function, call it, get the answer back from wherever it ran.

from clustrix import cluster

@cluster(cores=2, memory="1GB", time="00:05:00")
def add(a, b):
    return a + b

add(1, 2)                 # 3, computed through the job life cycle
fut = add.submit(1, 2)    # ClusterFuture (a concurrent.futures.Future, also awaitable)
add.map([1, 2], [3, 4])   # futures, in input order

Importing the package costs nothing until a name is used: each public name below is imported
from its module on first use (PEP 562). The runner on an execution host imports
``clustrix.checkpoint`` alone, and a trivial call should not pay for the client's machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    BackendNotInstalled,
    ClustrixError,
    CommandOutcomeUnknown,
    ConfigError,
    DependencyFailed,
    HostKeyError,
    JobCancelled,
    JobFailed,
    JobLost,
    JobNotFound,
    JobOutOfMemory,
    JobPreempted,
    JobTimeout,
    NodeFailure,
    PicklingError,
    RemoteBaseException,
    RemoteEnvironmentError,
    RemoteGeneratorExit,
    RemoteKeyboardInterrupt,
    RemoteSystemExit,
    ResultCorrupted,
    ResultForged,
    ResultUnreadable,
    StatusUnavailable,
    StoreBusy,
    StoreError,
    SubmissionRejected,
    SubmissionUncertain,
    TransportError,
    UnsafeWorkDir,
)  # cheap (no imports of their own), and needed at once to catch them

if TYPE_CHECKING:
    from .decorator import ClusterFunction, cluster
    from .executor import LocalExecutor
    from .future import ClusterFuture
    from .future_list import FutureList
    from .lifecycle import attach, configure
    from .listing import JobTable, jobs
    from .outcome import RemoteError
    from .pool import Executor
    from .progress import wait
    from .retry import Attempt

#: the module that defines each public name
_EXPORTS: dict[str, tuple[str, ...]] = {
    "decorator": ("ClusterFunction", "cluster"),
    "executor": ("LocalExecutor",),
    "future": ("ClusterFuture",),
    "future_list": ("FutureList",),
    "lifecycle": ("attach", "configure"),
    "listing": ("JobTable", "jobs"),
    "outcome": ("RemoteError",),
    "pool": ("Executor",),
    "progress": ("wait",),
    "retry": ("Attempt",),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    import importlib.util

    if name == "__version__":
        from importlib import metadata

        try:  # the one source is clustrix_core/pyproject.toml (tools/versions.py keeps the six in step)
            value: Any = metadata.version("clustrix")
        except metadata.PackageNotFoundError:  # imported from a source tree that was never installed
            value = "0+unknown"
    elif name in _HOME:
        value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    elif not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f".{name}", __name__)  # a submodule: clustrix.checkpoint.save(...)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # once: later lookups do not come back here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME, "__version__"})


__all__ = [
    "Attempt",
    "BackendNotInstalled",
    "ClusterFunction",
    "ClusterFuture",
    "ClustrixError",
    "CommandOutcomeUnknown",
    "ConfigError",
    "DependencyFailed",
    "Executor",
    "FutureList",
    "HostKeyError",
    "JobCancelled",
    "JobFailed",
    "JobLost",
    "JobNotFound",
    "JobOutOfMemory",
    "JobPreempted",
    "JobTable",
    "JobTimeout",
    "LocalExecutor",
    "NodeFailure",
    "PicklingError",
    "RemoteBaseException",
    "RemoteEnvironmentError",
    "RemoteError",
    "RemoteGeneratorExit",
    "RemoteKeyboardInterrupt",
    "RemoteSystemExit",
    "ResultCorrupted",
    "ResultForged",
    "ResultUnreadable",
    "StatusUnavailable",
    "StoreBusy",
    "StoreError",
    "SubmissionRejected",
    "SubmissionUncertain",
    "TransportError",
    "UnsafeWorkDir",
    "attach",
    "cluster",
    "configure",
    "jobs",
    "wait",
]
