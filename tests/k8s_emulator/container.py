"""Per-container helpers: image pull rule, RSS measurement, process state."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from .rules import parse_quantity


def image_pull_fails(image: str) -> bool:
    """Emulated pull failure: image contains "invalid" or starts with "does-not-exist"."""
    last = image.rsplit("/", 1)[-1]
    return "invalid" in image or image.startswith("does-not-exist") or last.startswith("does-not-exist")


def tree_rss(pid: int) -> int:
    """Resident memory in bytes of ``pid`` and its descendants (best effort)."""
    total, stack, seen = 0, [pid], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return total


def _killpg(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the container's main process only (its PID 1), as the runtime sends it."""
    try:
        os.kill(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass


class ContainerRun:
    """State of one container inside a running pod."""

    def __init__(self, spec: dict[str, Any], log_dir: Path) -> None:
        self.spec = spec
        self.name: str = spec["name"]
        self.log = log_dir / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.oom = False
        self.restarts = 0
        self.restart_at: float | None = None
        self.state: dict[str, Any] = {"waiting": {"reason": "ContainerCreating"}}
        self.last_state: dict[str, Any] = {}
        limit = ((spec.get("resources") or {}).get("limits") or {}).get("memory")
        self.mem_limit = int(parse_quantity(limit)) if limit is not None else None

    def status(self) -> dict[str, Any]:
        running = "running" in self.state
        return {
            "name": self.name,
            "image": self.spec.get("image"),
            "imageID": "",
            "containerID": f"emulator://{self.proc.pid}" if self.proc else None,
            "ready": running,
            "started": running,
            "restartCount": self.restarts,
            "state": self.state,
            "lastState": self.last_state,
        }

    @property
    def done(self) -> bool:
        return "terminated" in self.state and self.restart_at is None
