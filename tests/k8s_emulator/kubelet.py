"""A fake kubelet: runs each pod's containers as local subprocesses.

The image is ignored except for the pull-failure rule (:func:`image_pull_fails`);
``command + args`` run on the host (``python``/``python3`` map to the test
interpreter) with the container ``env`` and mount-path rewriting from
:mod:`.volumes`. Memory limits are enforced by polling RSS (SIGKILL at once, as
the kernel's OOM killer). A pod deleted, evicted or past its activeDeadlineSeconds
is stopped as the kubelet does: SIGTERM to each container's main process, SIGKILL
to what is left ``terminationGracePeriodSeconds`` (default 30) later.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from .container import ContainerRun, _killpg, _terminate, image_pull_fails, tree_rss
from .store import Store, now_rfc3339
from .volumes import (
    ConfigError,
    MountError,
    expand_vars,
    materialize,
    mount_map,
    resolve_env,
    rewrite,
)

POLL = 0.05
#: the pod spec's terminationGracePeriodSeconds when it sets none (the apiserver's default)
DEFAULT_GRACE = 30.0
PYTHON_NAMES = {"python", "python3", f"python3.{sys.version_info.minor}"}


class PodRunner(threading.Thread):
    """Drives one pod from Pending to Succeeded/Failed."""

    def __init__(self, kubelet: Kubelet, namespace: str, name: str) -> None:
        super().__init__(name=f"pod-{namespace}-{name}", daemon=True)
        self.kubelet, self.store = kubelet, kubelet.store
        self.namespace, self.name = namespace, name
        self.dir = kubelet.workdir / namespace / name
        self.killed = threading.Event()
        self.kill_info: tuple[str | None, str | None] = (None, None)
        self.kill_at: float | None = None  # when the grace period of a kill ends (SIGKILL)
        self.containers: list[ContainerRun] = []
        self.lock = threading.Lock()
        pod = self.store.find("pods", namespace, name) or {}
        grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        self.grace = DEFAULT_GRACE if grace is None else float(grace)

    # -- status helpers -------------------------------------------------
    def _set(self, phase: str, reason: str | None = None, message: str | None = None) -> bool:
        statuses = [c.status() for c in self.containers]
        ready = phase == "Running" and all(s["ready"] for s in statuses)

        def fn(pod: dict[str, Any]) -> None:
            st = pod.setdefault("status", {})
            st.update(
                phase=phase,
                containerStatuses=statuses,
                hostIP="127.0.0.1",
                podIP="127.0.0.1",
            )
            st.setdefault("startTime", now_rfc3339())
            st.setdefault("qosClass", "BestEffort")
            if reason:
                st["reason"] = reason
            if message:
                st["message"] = message
            cond = {"PodScheduled": "True", "Initialized": "True"}
            cond["ContainersReady"] = cond["Ready"] = "True" if ready else "False"
            old = {c["type"]: c for c in st.get("conditions") or []}
            st["conditions"] = [
                {
                    "type": t,
                    "status": s,
                    "lastTransitionTime": old[t]["lastTransitionTime"],
                }
                if t in old and old[t]["status"] == s
                else {"type": t, "status": s, "lastTransitionTime": now_rfc3339()}
                for t, s in cond.items()
            ]

        return self.store.update("pods", self.namespace, self.name, fn) is not None

    def kill(self, reason: str | None = None, message: str | None = None, grace: float | None = None) -> None:
        """Stop the pod: SIGTERM to each container's main process now, SIGKILL to its
        process group once ``grace`` seconds passed (the pod's terminationGracePeriodSeconds
        unless given; 0: SIGKILL at once). A later kill can only shorten the grace.
        ``reason`` None means the pod object was deleted."""
        seconds = self.grace if grace is None else max(0.0, grace)
        with self.lock:
            first = not self.killed.is_set()
            if first:
                self.kill_info = (reason, message)
                self.killed.set()
            end = time.monotonic() + seconds
            self.kill_at = end if self.kill_at is None else min(self.kill_at, end)
            for c in self.containers:
                if c.proc is not None and seconds <= 0:
                    _killpg(c.proc)
                elif c.proc is not None and first:
                    _terminate(c.proc)

    # -- main loop -------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        except Exception:
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / "kubelet-error.log").write_text(traceback.format_exc())
            self._set("Failed", "EmulatorError", traceback.format_exc(limit=3))
        finally:
            for c in self.containers:
                if c.proc is not None and c.proc.poll() is None:
                    _killpg(c.proc)
                    c.proc.wait()

    def _wait(self, seconds: float) -> bool:
        """Sleep; True if the pod got killed meanwhile."""
        return self.killed.wait(seconds)

    def _run(self) -> None:
        pod = self.store.find("pods", self.namespace, self.name)
        if pod is None:
            return
        spec = pod["spec"]
        (self.dir / "logs").mkdir(parents=True, exist_ok=True)
        self.containers = [ContainerRun(c, self.dir / "logs") for c in spec["containers"]]
        self._set("Pending")
        bad = [c for c in self.containers if image_pull_fails(c.spec.get("image") or "")]
        if bad:
            return self._image_backoff(bad)
        while True:
            try:
                volumes = materialize(self.store, pod, self.dir)
                envs = {
                    c.name: resolve_env(self.store, pod, c.spec, mount_map(c.spec, volumes)) for c in self.containers
                }
                break
            except (MountError, ConfigError) as exc:
                reason = "ContainerCreating" if isinstance(exc, MountError) else "CreateContainerConfigError"
                for c in self.containers:
                    c.state = {"waiting": {"reason": reason, "message": str(exc)}}
                if not self._set("Pending") or self._wait(0.2):
                    return self._finish_killed()
        started = time.monotonic()
        for c in self.containers:
            self._start(c, pod, volumes, envs[c.name])
        if not self._set(self._phase()):
            return self._finish_killed()
        deadline = spec.get("activeDeadlineSeconds")
        while True:
            if self._wait(POLL):
                return self._finish_killed()
            if deadline is not None and time.monotonic() - started > deadline:
                self.kill(
                    "DeadlineExceeded",
                    "Pod was active on the node longer than the specified deadline",
                )
                continue
            changed = False
            for c in self.containers:
                changed |= self._tick(c, pod, volumes, envs[c.name], spec.get("restartPolicy"))
            if all(c.done for c in self.containers):
                ok = all(c.state["terminated"]["exitCode"] == 0 for c in self.containers)
                self._set("Succeeded" if ok else "Failed")
                return
            if changed and not self._set(self._phase()):
                return self._finish_killed()

    def _grace(self, c: ContainerRun) -> None:
        """Let a killed container's main process run until its grace period ends (its
        memory limit still enforced), then SIGKILL its process group."""
        assert c.proc is not None
        while c.proc.poll() is None:
            left = (self.kill_at or 0.0) - time.monotonic()
            if left <= 0:
                break
            if c.mem_limit is not None and tree_rss(c.proc.pid) > c.mem_limit:
                c.oom = True
                break
            try:
                c.proc.wait(min(POLL, left))
            except subprocess.TimeoutExpired:
                pass
        _killpg(c.proc)

    def _phase(self) -> str:
        return "Running" if any("running" in c.state for c in self.containers) else "Pending"

    def _image_backoff(self, bad: list[ContainerRun]) -> None:
        reasons, i = ("ErrImagePull", "ImagePullBackOff"), 0
        while True:
            for c in bad:
                img = c.spec.get("image")
                c.state = {
                    "waiting": {
                        "reason": reasons[i % 2],
                        "message": f'Back-off pulling image "{img}"'
                        if i % 2
                        else f'rpc error: code = Unknown desc = failed to pull and unpack image "{img}": '
                        "pull access denied, repository does not exist or may require authorization",
                    }
                }
            if not self._set("Pending") or self._wait(self.kubelet.image_backoff):
                return self._finish_killed()
            i += 1

    def _start(
        self,
        c: ContainerRun,
        pod: dict[str, Any],
        volumes: dict[str, Path],
        env: dict[str, str],
    ) -> None:
        mapping = mount_map(c.spec, volumes)
        argv = [
            rewrite(expand_vars(a, env), mapping) for a in (c.spec.get("command") or []) + (c.spec.get("args") or [])
        ]
        if argv and argv[0].rsplit("/", 1)[-1] in PYTHON_NAMES:
            argv[0] = self.kubelet.python
        full_env = dict(os.environ) if self.kubelet.inherit_env else {"PATH": os.environ.get("PATH", "")}
        full_env.update(HOSTNAME=self.name, **env)
        cwd = self.dir
        if c.spec.get("workingDir"):
            wd = rewrite(c.spec["workingDir"], mapping)
            cwd = Path(wd) if wd != c.spec["workingDir"] or Path(wd).is_dir() else self.dir / "rootfs" / wd.lstrip("/")
            cwd.mkdir(parents=True, exist_ok=True)
        now = now_rfc3339()
        if not argv:
            c.state = {
                "terminated": {
                    "exitCode": 128,
                    "reason": "StartError",
                    "message": "emulator: no command/args",
                }
            }
            return
        with self.lock:
            if self.killed.is_set():
                return
            with open(c.log, "ab") as log:
                try:
                    c.proc = subprocess.Popen(
                        argv, env=full_env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL, start_new_session=True,
                    )  # fmt: skip
                except OSError as exc:
                    msg = f'exec: "{argv[0]}": {exc.strerror}'
                    c.state = {
                        "terminated": {
                            "exitCode": 128,
                            "reason": "StartError",
                            "message": msg,
                        }
                    }
                    c.state["terminated"].update(startedAt=now, finishedAt=now)
                    return
        c.oom = False
        c.state = {"running": {"startedAt": now}}

    def _tick(
        self,
        c: ContainerRun,
        pod: dict[str, Any],
        volumes: dict[str, Path],
        env: dict[str, str],
        policy: str | None,
    ) -> bool:
        """Advance one container; True when its state changed."""
        if c.restart_at is not None:
            if time.monotonic() < c.restart_at:
                return False
            c.restart_at = None
            c.last_state, c.restarts = (
                {"terminated": c.state["terminated"]},
                c.restarts + 1,
            )
            if c.log.exists():
                shutil.move(c.log, c.log.with_suffix(".log.prev"))
            self._start(c, pod, volumes, env)
            return True
        if c.proc is None or "running" not in c.state:
            return self._maybe_restart(c, policy)
        rc = c.proc.poll()
        if rc is None:
            if c.mem_limit is not None and tree_rss(c.proc.pid) > c.mem_limit:
                c.oom = True
                _killpg(c.proc)
            return False
        code = 137 if c.oom else (rc if rc >= 0 else 128 - rc)
        reason = "OOMKilled" if c.oom else ("Completed" if code == 0 else "Error")
        started = c.state["running"]["startedAt"]
        c.state = {
            "terminated": {
                "exitCode": code,
                "reason": reason,
                "startedAt": started,
                "finishedAt": now_rfc3339(),
            }
        }
        c.state["terminated"]["containerID"] = f"emulator://{c.proc.pid}"
        self._maybe_restart(c, policy)
        return True

    def _maybe_restart(self, c: ContainerRun, policy: str | None) -> bool:
        term = c.state.get("terminated")
        if not term or c.restart_at is not None:
            return False
        if policy == "Always" or (policy == "OnFailure" and term["exitCode"] != 0):
            c.restart_at = time.monotonic() + self.kubelet.restart_delay
            return True
        return False

    def _finish_killed(self) -> None:
        reason, message = self.kill_info
        for c in self.containers:
            if c.proc is not None:
                self._grace(c)
                _killpg(c.proc)  # what is left of the container goes with its main process
                c.proc.wait()
            if "running" in c.state and c.proc is not None and c.restart_at is None:
                rc = c.proc.returncode  # it ended within its grace period, or by the SIGKILL after it
                code = 137 if c.oom else (rc if rc >= 0 else 128 - rc)
                c.state = {
                    "terminated": {
                        "exitCode": code,
                        "reason": "OOMKilled" if c.oom else ("Completed" if code == 0 else "Error"),
                        "startedAt": c.state["running"]["startedAt"],
                        "finishedAt": now_rfc3339(),
                    }
                }
            elif "terminated" not in c.state or c.restart_at is not None:
                started = (c.state.get("running") or {}).get("startedAt")
                c.restart_at = None
                c.state = {
                    "terminated": {
                        "exitCode": 137,
                        "reason": "Error",
                        "startedAt": started,
                        "finishedAt": now_rfc3339(),
                    }
                }
        if reason is not None:
            self._set("Failed", reason, message)


class Kubelet:
    """Starts and stops :class:`PodRunner` threads."""

    def __init__(
        self,
        store: Store,
        workdir: Path,
        python: str = sys.executable,
        inherit_env: bool = True,
    ) -> None:
        self.store, self.workdir = store, workdir
        self.python, self.inherit_env = python, inherit_env
        self.image_backoff = 0.5
        self.restart_delay = 0.1
        self._runners: dict[tuple[str, str], PodRunner] = {}
        self._lock = threading.Lock()

    def start_pod(self, namespace: str, name: str) -> None:
        runner = PodRunner(self, namespace, name)
        with self._lock:
            self._runners[(namespace, name)] = runner
        runner.start()

    def kill(
        self,
        namespace: str,
        name: str,
        reason: str | None = None,
        message: str | None = None,
        grace: float | None = None,
    ) -> bool:
        """Stop a pod (see :meth:`PodRunner.kill`); False if it never ran here."""
        with self._lock:
            runner = self._runners.get((namespace, name))
        if runner is None:
            return False
        runner.kill(reason, message, grace)
        return True

    def log_dir(self, namespace: str, name: str) -> Path:
        return self.workdir / namespace / name / "logs"

    def stop_all(self, timeout: float = 5.0) -> None:
        with self._lock:
            runners = list(self._runners.values())
        for r in runners:
            r.kill(grace=0)
        for r in runners:
            r.join(timeout)
