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
    ConfigError,
    JobCancelled,
    JobFailed,
    JobLost,
    JobNotFound,
    JobOutOfMemory,
    JobPreempted,
    JobTimeout,
    NodeFailure,
    PicklingError,
    ResultCorrupted,
    SubmissionRejected,
)
from .executor import LocalExecutor
from .future import ClusterFuture
from .lifecycle import attach, configure
from .listing import jobs
from .outcome import RemoteError
from .pool import Executor
from .progress import wait

try:  # the one source is clustrix_core/pyproject.toml (tools/versions.py keeps the six in step)
    __version__ = _metadata.version("clustrix")
except _metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "BackendNotInstalled",
    "ClusterFunction",
    "ClusterFuture",
    "ClustrixError",
    "ConfigError",
    "Executor",
    "JobCancelled",
    "JobFailed",
    "JobLost",
    "JobNotFound",
    "JobOutOfMemory",
    "JobPreempted",
    "JobTimeout",
    "LocalExecutor",
    "NodeFailure",
    "PicklingError",
    "RemoteError",
    "ResultCorrupted",
    "SubmissionRejected",
    "attach",
    "cluster",
    "configure",
    "jobs",
    "wait",
]
