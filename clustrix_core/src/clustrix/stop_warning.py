"""The scheduler's warning before it stops a job: the ``stop_warning`` setting.

The runner turns the warning (SIGUSR1, or SIGTERM on preemption and pod termination) into
``checkpoint.stopping()`` becoming true, so a call can save and return; it is then
requeued, not failed. A scheduler plugin asks :func:`lead_time` how early to send it:
Slurm ``--signal=B:USR1@N``, the local backend SIGUSR1 to each element's process. Grid
Engine gets none: a soft limit ``s_rt`` there stops ``h_rt`` from being enforced.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .config import Setting
from .hookspecs import hookimpl
from .quantities import parse_time

#: a warning takes at most this share of the time limit, so a short job still gets work done
MAX_SHARE = 0.25

STOP_WARNING = Setting(
    "stop_warning",
    int,
    60,
    "Seconds before the time limit the scheduler warns the job (Slurm --signal, local): "
    "checkpoint.stopping() becomes true. At most a quarter of the time limit; 0: no warning.",
    "behaviour",
    minimum=0,
)


def lead_time(settings: Mapping[str, Any]) -> int:
    """Seconds of warning the job asks for: ``stop_warning``, capped to a share of ``time``."""
    warn = int(settings.get("stop_warning", STOP_WARNING.default) or 0)
    if settings.get("time"):
        warn = min(warn, int(parse_time(settings["time"]) * MAX_SHARE))
    return max(0, warn)


class StopWarning:
    @hookimpl
    def clustrix_settings(self) -> list[Setting]:
        return [STOP_WARNING]


plugin = StopWarning()
