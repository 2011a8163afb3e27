"""A target: one place jobs run (a backend on a host, as a user, in a work dir).

Jobs of one target share one transport (one SSH connection) and one watcher.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import platformdirs

from .job import Job
from .plugins import manager
from .store import Store, open_store
from .transport import LocalTransport, Transport


def clustrix_home(settings: Mapping[str, Any] | None = None) -> Path:
    """Local directory of the job store and job dirs: setting ``home``, CLUSTRIX_HOME, platformdirs."""
    configured = (settings or {}).get("home") or os.environ.get("CLUSTRIX_HOME")
    return Path(configured or platformdirs.user_data_dir("clustrix")).expanduser()


#: the remote home directory while rendering (the host is not asked): plain characters, so
#: a job script is checked as at submission; ``lifecycle.render`` shows it as ``$HOME``
RENDER_HOME = "/clustrix-render-home"


def is_local_host(host: str | None) -> bool:
    return host in (None, "", "localhost")


class Target:
    """Where jobs run: one backend on one host, as one user, in one work dir.

    Every hook receives it. ``settings`` are the target's resolved settings (a job's own
    are ``job.settings``); ``transport`` runs commands and moves files on the execution
    host (opened on first use); ``dry_run`` is set while rendering, when a hook must not
    contact the host; ``is_local`` says whether the host is this machine. One Target per
    process serves every job with the same target settings: one connection, one watcher.
    """

    def __init__(self, settings: Mapping[str, Any], *, dry_run: bool = False) -> None:
        self.settings = dict(settings)
        #: describe jobs without contacting the host (``clustrix render``): no home
        #: lookup, no interpreter probe, placeholders instead
        self.dry_run = dry_run
        self.backend: str = settings["cluster_type"]
        self.hooks = manager().hooks(self.backend)
        self.home = clustrix_home(settings)
        self.key = target_key(settings)

    @cached_property
    def transport(self) -> Transport:
        if is_local_host(self.settings.get("cluster_host")):
            return LocalTransport()
        from .ssh_transport import transport_for

        return transport_for(self.settings)

    @property
    def is_local(self) -> bool:
        return is_local_host(self.settings.get("cluster_host"))

    @cached_property
    def remote_work_dir(self) -> str:
        """Absolute path of the job directories on the execution host.

        ``remote_work_dir`` as given when absolute; under the host's home directory when it
        starts with ``~/`` or is relative (a job script ``cd``s into its job directory, so a
        relative path would be applied twice); default ``~/.clustrix`` (on this machine: the
        Clustrix home). Rendering uses ``RENDER_HOME`` for a remote home it does not ask for.
        """
        configured = str(self.settings.get("remote_work_dir") or "")
        if not configured:
            if self.is_local:
                return str(self.home)
            configured = ".clustrix"
        if configured.startswith("/"):
            return configured
        under_home = configured.removeprefix("~").lstrip("/") if configured.startswith("~") else configured
        home = RENDER_HOME if self.dry_run and not self.is_local else self.transport.home()
        return f"{home.rstrip('/')}/{under_home}".rstrip("/")

    def prepare_environment(self, settings: Mapping[str, Any]) -> str:
        """The environment step: find (or build: a venv on a remote host, up to minutes) the
        interpreter for jobs with these settings and return it. Cached per interpreter and
        requirements, so the job scripts written afterwards name it without asking again."""
        return self.python_for(settings)

    def python_for(self, settings: Mapping[str, Any]) -> str:
        """Interpreter for jobs with these settings (their own ``python``/``requirements``);
        the environment step checks it (cloudpickle version), and on a remote host finds or
        builds it (cached per requirements). Here, without ``python``: this interpreter."""
        configured = settings.get("python")
        if self.is_local and not configured:
            return sys.executable
        if self.dry_run:
            return str(configured or "python3")
        from .environment import python_for

        return python_for(self, settings)

    @cached_property
    def store(self) -> Store:
        return open_store(self.home)

    @cached_property
    def watcher(self) -> Any:
        from .watcher import Watcher

        return Watcher(self)

    def blobs_needed(self, job: Job) -> list[str]:
        manifest = json.loads((job.local_dir / "manifest.json").read_text())
        return sorted({manifest["function"], *(e["blob"] for e in manifest["elements"])})


def target_key(settings: Mapping[str, Any]) -> str:
    """Identity of a target: every setting of group "target" (core's and plugins'), e.g.
    host, user, work dir, command paths; resources and behaviour do not split targets."""
    table = manager().settings()
    keys = sorted(k for k, s in table.items() if s.group == "target" and k != "profile")
    return json.dumps({k: settings.get(k) for k in keys}, sort_keys=True, default=str)


_targets: dict[tuple[str, str], Target] = {}
_targets_lock = threading.Lock()


def target_for(settings: Mapping[str, Any]) -> Target:
    """The process-wide Target for these settings (created on first use)."""
    key = (str(clustrix_home(settings)), target_key(settings))
    with _targets_lock:
        target = _targets.get(key)
        if target is None:
            target = _targets[key] = Target(settings)
        return target
