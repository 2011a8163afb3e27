"""Transports run commands and move files on the execution host.

``LocalTransport`` is used when Clustrix runs where the jobs run (a login node, the
local backend, tests); ``SSHTransport`` (``clustrix.ssh_transport``) reaches a remote
host. Commands are argument lists; a transport that needs a shell line joins them with
``shlex.join``, so no user value is ever pasted unquoted into a shell.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import CommandOutcomeUnknown, TransportError


@dataclass
class Completed:
    argv: Sequence[str]
    returncode: int
    stdout: str
    stderr: str

    def check(self) -> Completed:
        if self.returncode != 0:
            raise TransportError(
                f"command `{shlex.join(self.argv)}` failed with exit code {self.returncode}: "
                f"{(self.stderr or self.stdout).strip()}"
            )
        return self


class Transport(ABC):
    """Run commands and move files on one execution host."""

    #: a short description for messages ("local", "user@host:port")
    where: str = "local"

    @abstractmethod
    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = 120,
        idempotent: bool = True,
    ) -> Completed:
        """Run a command; never raises for a non-zero exit (see ``Completed.check``).

        ``idempotent=False`` marks a command with side effects (a submission): it is never
        re-executed, and when it may or may not have run (connection lost after sending,
        no exit within ``timeout``) :class:`~clustrix.errors.CommandOutcomeUnknown` is raised.
        """

    @abstractmethod
    def put(self, local: Path, remote: str, mode: int = 0o600) -> None:
        """Copy a local file to ``remote`` (written atomically: temp name, then rename)."""

    @abstractmethod
    def get(self, remote: str, local: Path) -> bool:
        """Copy ``remote`` to ``local``; False if it does not exist."""

    @abstractmethod
    def missing(self, paths: Iterable[str]) -> set[str]:
        """Which of these paths do not exist (one round trip)."""

    @abstractmethod
    def home(self) -> str:
        """The remote user's home directory."""

    def listdirs(self, paths: Sequence[str]) -> dict[str, set[str]]:
        """Names in each directory (missing ones map to an empty set), in one round trip."""
        script = 'for d in "$@"; do printf "\\0%s\\n" "$d"; ls -1A -- "$d" 2>/dev/null || true; done'
        done = self.run(["sh", "-c", script, "sh", *paths]).check()
        found: dict[str, set[str]] = {p: set() for p in paths}
        current: set[str] | None = None
        for line in done.stdout.splitlines():
            if line.startswith("\0"):
                current = found.setdefault(line[1:], set())
            elif current is not None and line:
                current.add(line)
        return found

    def mkdirs(self, paths: Iterable[str]) -> None:
        """Create directories (and parents) with mode 0700 (``-m`` would apply to the last one only)."""
        paths = list(paths)
        if paths:
            self.run(["sh", "-c", 'umask 077 && mkdir -p -- "$@"', "sh", *paths]).check()

    def remove_tree(self, path: str) -> None:
        self.run(["rm", "-rf", "--", path]).check()

    def read_text(self, remote: str, tail_bytes: int | None = None) -> str | None:
        """Text of a remote file (its last ``tail_bytes`` bytes), or None if missing."""
        argv = ["tail", "-c", str(tail_bytes), "--", remote] if tail_bytes else ["cat", "--", remote]
        done = self.run(argv)
        return done.stdout if done.returncode == 0 else None

    def close(self) -> None:  # noqa: B027 - optional for transports holding no connection
        """Release connections (nothing to do for a local transport)."""


class RemoteTransport(Transport):
    """What every transport to another host answers with one shell command: the existence
    check and the (cached) home directory. Subclasses supply ``run``, ``put`` and ``get``."""

    _home: str | None = None

    def missing(self, paths: Iterable[str]) -> set[str]:
        paths = list(paths)
        if not paths:
            return set()
        script = 'for p in "$@"; do [ -e "$p" ] || printf "%s\\0" "$p"; done'
        done = self.run(["sh", "-c", script, "sh", *paths]).check()
        return {p for p in done.stdout.split("\0") if p}

    def home(self) -> str:
        if self._home is None:
            self._home = self.run(["sh", "-c", 'printf %s "$HOME"']).check().stdout
        return self._home


class LocalTransport(Transport):
    """Subprocesses and file copies on this machine."""

    where = "local"

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = 120,
        idempotent: bool = True,
    ) -> Completed:
        full_env = {**os.environ, **env} if env else None
        try:
            proc = subprocess.run(
                list(argv), input=input, capture_output=True, text=True, env=full_env, timeout=timeout
            )
        except FileNotFoundError as exc:
            return Completed(argv, 127, "", f"{argv[0]}: command not found ({exc})")
        except subprocess.TimeoutExpired:
            if not idempotent:
                raise CommandOutcomeUnknown(f"`{shlex.join(argv)}` did not finish within {timeout} s") from None
            return Completed(argv, 124, "", f"timed out after {timeout} s")
        return Completed(argv, proc.returncode, proc.stdout, proc.stderr)

    def put(self, local: Path, remote: str, mode: int = 0o600) -> None:
        target = Path(remote)
        if target.resolve() == Path(local).resolve():
            return
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.copyfile(local, tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, target)

    def get(self, remote: str, local: Path) -> bool:
        source = Path(remote)
        if not source.exists():
            return False
        if source.resolve() != Path(local).resolve():
            local.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, local)
        return True

    def missing(self, paths: Iterable[str]) -> set[str]:
        return {p for p in paths if not os.path.exists(p)}

    def listdirs(self, paths: Sequence[str]) -> dict[str, set[str]]:
        found = {}
        for p in paths:
            try:
                found[p] = set(os.listdir(p))
            except OSError:
                found[p] = set()
        return found

    def home(self) -> str:
        return str(Path.home())

    def mkdirs(self, paths: Iterable[str]) -> None:
        for p in paths:  # each missing parent 0700 too (os.makedirs gives parents the umask's mode)
            missing = []
            path = Path(p)
            while not path.exists() and path != path.parent:
                missing.append(path)
                path = path.parent
            for directory in reversed(missing):
                with contextlib.suppress(FileExistsError):
                    directory.mkdir(mode=0o700)

    def remove_tree(self, path: str) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def read_text(self, remote: str, tail_bytes: int | None = None) -> str | None:
        try:
            with open(remote, "rb") as f:
                if tail_bytes:
                    f.seek(max(0, os.fstat(f.fileno()).st_size - tail_bytes))
                return f.read().decode(errors="replace")
        except OSError:
            return None
