"""Clustrix: decorate a function, call it, get the answer back from wherever it ran.

from clustrix import cluster

@cluster(cores=2, memory="1GB", time="00:05:00")
def add(a, b):
    return a + b

add(1, 2)                 # 3, computed through the job life cycle
fut = add.submit(1, 2)    # ClusterFuture (a concurrent.futures.Future, also awaitable)
add.map([1, 2], [3, 4])   # futures, in input order
"""

from .config import configure
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
from .lifecycle import attach
from .outcome import RemoteError

__version__ = "0.2.0"

__all__ = [
    "BackendNotInstalled",
    "ClusterFunction",
    "ClusterFuture",
    "ClustrixError",
    "ConfigError",
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
]
