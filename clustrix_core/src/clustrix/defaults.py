"""The core's own plugins: the first and last links of each chain, registered like any
plugin, so a backend overrides a default by answering first.

- :mod:`clustrix.staging`: staging, fetching and clean-up through the target's transport;
- :mod:`clustrix.error_chain`: the remote exception first, a typed failure last;
- :mod:`clustrix.dependencies`: a call whose parent did not succeed failed because of it;
- :mod:`clustrix.executor_mode`: the local executor's choice of threads or processes;
- :mod:`clustrix.workdir` and :mod:`clustrix.environment`: the work-dir check, the
  environment's settings;
- :mod:`clustrix.stop_warning`: the ``stop_warning`` setting.
"""

from __future__ import annotations

from . import environment, stop_warning, workdir
from .dependencies import DependencyReader
from .error_chain import GenericError, RemoteExceptionReader
from .executor_mode import ExplicitMode, IOBoundWork, ProcessesByDefault, UnpicklableWork
from .staging import TransportFiles

PLUGINS: tuple[tuple[str, object], ...] = (
    ("clustrix.work-dir", workdir.plugin),
    ("clustrix.transport-files", TransportFiles()),
    ("clustrix.remote-exception", RemoteExceptionReader()),
    ("clustrix.dependency-failed", DependencyReader()),
    ("clustrix.generic-error", GenericError()),
    ("clustrix.mode.explicit", ExplicitMode()),
    ("clustrix.mode.unpicklable", UnpicklableWork()),
    ("clustrix.mode.io", IOBoundWork()),
    ("clustrix.mode.default", ProcessesByDefault()),
    ("clustrix.environment", environment.plugin),
    ("clustrix.stop-warning", stop_warning.plugin),
)
