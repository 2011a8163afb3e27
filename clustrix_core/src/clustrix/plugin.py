"""Everything a backend author imports, in one module: ``from clustrix.plugin import ...``.

Read ``clustrix.hookspecs`` for what each hook receives, returns and when it is
called; this module hands on the objects those hooks take and give back. A plugin that
imports only from here keeps working when the core's modules are rearranged; the
project's own five plugins and the example backend in ``tests/example_backend`` do so
(``tests/core/test_plugin_surface.py`` checks it).

- hooks: ``hookimpl`` (decorate each implementation), ``REQUIRED_HOOKS`` (every
  backend implements them, ``check_backend`` is what refuses one that does not);
- what hooks receive: ``Job`` (with the remote layout helpers ``remote_result``,
  ``remote_log``, ...), ``Target``, ``Transport`` and ``Completed``;
- what they answer: ``JobStatus``, ``State``, ``Setting`` and the typed
  failures (``typed_failure``, the ``JobFailed`` family);
- batch schedulers: ``BatchScheduler`` and its helpers (``Chunk``,
  ``TaskStates``, ``directive_value``, ``sanitize_name``);
- quantities: ``parse_memory``, ``parse_time``, ``mebibytes``, ``hms``;
- the stop warning: ``lead_time`` (seconds before the time limit to warn the job).
"""

from __future__ import annotations

from .batch import BatchScheduler, Chunk, TaskStates, directive_value, sanitize_name
from .config import ENV_NAME, Setting
from .errors import (
    CheckFailed,
    ClustrixError,
    CommandOutcomeUnknown,
    ConfigError,
    JobCancelled,
    JobFailed,
    JobLost,
    JobOutOfMemory,
    JobPreempted,
    JobTimeout,
    NodeFailure,
    PluginContractError,
    SubmissionRejected,
    TransportError,
)
from .failures import STDERR_TAIL_BYTES, typed_failure
from .hookspecs import REQUIRED_HOOKS, hookimpl
from .job import Job, JobStatus, State
from .plugins import check_backend
from .quantities import hms, mebibytes, parse_memory, parse_time
from .runner import KEY_FILE
from .stop_warning import lead_time
from .target import Target
from .transport import Completed, Transport

__all__ = [
    "ENV_NAME",
    "KEY_FILE",
    "REQUIRED_HOOKS",
    "STDERR_TAIL_BYTES",
    "BatchScheduler",
    "CheckFailed",
    "Chunk",
    "ClustrixError",
    "CommandOutcomeUnknown",
    "Completed",
    "ConfigError",
    "Job",
    "JobCancelled",
    "JobFailed",
    "JobLost",
    "JobOutOfMemory",
    "JobPreempted",
    "JobStatus",
    "JobTimeout",
    "NodeFailure",
    "PluginContractError",
    "Setting",
    "State",
    "SubmissionRejected",
    "Target",
    "TaskStates",
    "Transport",
    "TransportError",
    "check_backend",
    "directive_value",
    "hms",
    "hookimpl",
    "lead_time",
    "mebibytes",
    "parse_memory",
    "parse_time",
    "sanitize_name",
    "typed_failure",
]
