"""Clustrix: decorate a function, call it, get the answer back from wherever it ran.

from clustrix import cluster

@cluster(cores=2, memory="1GB", time="00:05:00")
def add(a, b):
    return a + b

add(1, 2)                 # 3, computed through the job life cycle
fut = add.submit(1, 2)    # ClusterFuture (a concurrent.futures.Future, also awaitable)
add.map([1, 2], [3, 4])   # futures, in input order
"""

from importlib import metadata as _metadata

from .decorator import ClusterFunction, cluster
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
)
from .executor import LocalExecutor
from .future import ClusterFuture
from .future_list import FutureList
from .lifecycle import attach, configure
from .listing import JobTable, jobs
from .outcome import RemoteError
from .pool import Executor
from .progress import wait
from .retry import Attempt

try:  # the one source is clustrix_core/pyproject.toml (tools/versions.py keeps the six in step)
    __version__ = _metadata.version("clustrix")
except _metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

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
