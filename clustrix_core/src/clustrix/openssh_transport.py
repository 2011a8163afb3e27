"""OpenSSHTransport: the system ``ssh`` client, one shared master connection for every process.

Selected with ``ssh_client = "openssh"``. Each command is an ``ssh`` process that rides on
a ControlMaster connection (``ControlPersist``): the first one logs in, and every later
command of this process, the watcher and any ``clustrix`` CLI command started while the
master lives reuse that login, so a one-time code is asked once for all of them. OpenSSH
does everything else itself: host certificates (``@cert-authority``), Kerberos/GSSAPI,
FIDO and PKCS#11 keys, ``Match``/``Include``, ProxyJump and ProxyCommand.

Files travel over the same master as a command's input and output (``cat``), written to a
temporary name and renamed, like the paramiko transport's SFTP uploads. Prompts at login
(MFA) are answered through ``SSH_ASKPASS`` by the ``mfa_command`` setting.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shlex
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .errors import CommandOutcomeUnknown, HostKeyError, TransportError
from .ssh_endpoint import DEFAULT_TIMEOUT
from .ssh_prompts import can_ask_user
from .transport import Completed, RemoteTransport

log = logging.getLogger("clustrix.ssh")

#: seconds the master connection outlives its last use
CONTROL_PERSIST = 600
#: ssh's own exit code for its errors (connection, authentication, host key)
SSH_ERROR = 255
_MISSING = 3  # exit code of the download command for a file that does not exist

ASKPASS = """#!/bin/sh
# clustrix: answers ssh's login prompts (SSH_ASKPASS) with the mfa_command setting
CLUSTRIX_MFA_PROMPT="$1" exec /bin/sh -c "$CLUSTRIX_MFA_COMMAND"
"""


@dataclass(frozen=True)
class Destination:
    """What the ``ssh`` command line needs, from the settings (the ssh config does the rest)."""

    host: str
    port: int | None
    username: str | None
    key_file: str | None
    known_hosts: str | None
    policy: str
    ssh_config: str | None
    timeout: float
    mfa_command: str | None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Destination:
        config = os.path.expanduser(str(settings.get("ssh_config") or "~/.ssh/config"))
        return cls(
            host=str(settings["cluster_host"]),
            port=settings.get("port"),
            username=settings.get("username"),
            key_file=settings.get("key_file"),
            known_hosts=settings.get("known_hosts"),
            policy=settings.get("host_key_policy") or "strict",
            ssh_config=config if os.path.isfile(config) else None,
            timeout=float(settings.get("ssh_timeout") or DEFAULT_TIMEOUT),
            mfa_command=settings.get("mfa_command") or None,
        )


def control_dir() -> Path:
    """Where master sockets live: short (socket paths are limited to ~100 bytes) and private."""
    path = Path(tempfile.gettempdir()) / f"clustrix-ssh-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    if path.stat().st_uid != os.getuid() or path.stat().st_mode & 0o077:
        raise TransportError(f"{path} must be a directory only you can use (it holds your SSH master sockets)")
    return path


class OpenSSHTransport(RemoteTransport):
    """Commands and files through the system ``ssh`` and a shared ControlMaster connection."""

    _shared: ClassVar[dict[Destination, OpenSSHTransport]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, destination: Destination) -> None:
        if shutil.which("ssh") is None:
            raise TransportError('ssh_client = "openssh" needs the OpenSSH client (`ssh`) on PATH')
        self.destination = d = destination
        self.where = f"{d.username + '@' if d.username else ''}{d.host}{':' + str(d.port) if d.port else ''}"
        self._home: str | None = None
        identity = hashlib.sha256(repr(d).encode()).hexdigest()[:16]
        self._socket = control_dir() / identity  # one master per destination, for every process
        self.bytes_sent = 0
        self.bytes_received = 0

    @classmethod
    def for_settings(cls, settings: Mapping[str, Any]) -> OpenSSHTransport:
        destination = Destination.from_settings(settings)
        with cls._shared_lock:
            transport = cls._shared.get(destination)
            if transport is None:
                transport = cls._shared[destination] = cls(destination)
            return transport

    # --- the ssh command line ------------------------------------------------------------

    def _argv(self, command: str) -> list[str]:
        d = self.destination
        timeout = max(1, round(d.timeout))
        prompts = bool(d.mfa_command) or can_ask_user()  # else ssh must fail rather than wait for an answer
        argv = ["ssh", "-T", "-o", f"BatchMode={'no' if prompts else 'yes'}"]
        if d.ssh_config:
            argv += ["-F", d.ssh_config]
        if d.port:
            argv += ["-p", str(d.port)]
        if d.username:
            argv += ["-l", d.username]
        if d.key_file:
            argv += ["-i", os.path.expanduser(d.key_file), "-o", "IdentitiesOnly=yes"]
        if d.known_hosts:
            argv += ["-o", f"UserKnownHostsFile={os.path.expanduser(d.known_hosts)}"]
        argv += ["-o", f"StrictHostKeyChecking={'accept-new' if d.policy == 'accept-new' else 'yes'}"]
        argv += ["-o", "ControlMaster=auto", "-o", f"ControlPath={self._socket}"]
        argv += ["-o", f"ControlPersist={CONTROL_PERSIST}", "-o", f"ConnectTimeout={timeout}"]
        # a host that stops answering is dropped after about ssh_timeout
        argv += ["-o", f"ServerAliveInterval={max(1, timeout // 3)}", "-o", "ServerAliveCountMax=3"]
        return [*argv, "--", d.host, command]

    def _env(self) -> dict[str, str] | None:
        if not self.destination.mfa_command:
            return None
        askpass = control_dir() / "askpass.sh"
        if not askpass.exists() or askpass.read_text() != ASKPASS:
            tmp = askpass.with_name(f".askpass.{os.getpid()}")
            tmp.write_text(ASKPASS)
            tmp.chmod(0o700)
            os.replace(tmp, askpass)
        return {
            **os.environ,
            "SSH_ASKPASS": str(askpass),
            "SSH_ASKPASS_REQUIRE": "force",
            "DISPLAY": os.environ.get("DISPLAY", ":0"),
            "CLUSTRIX_MFA_COMMAND": self.destination.mfa_command,
        }

    def _ssh(
        self, command: str, stdin: bytes | Any | None, timeout: float | None
    ) -> subprocess.CompletedProcess[bytes]:
        kwargs: dict[str, Any] = {"input": stdin} if isinstance(stdin, bytes) or stdin is None else {"stdin": stdin}
        return subprocess.run(self._argv(command), capture_output=True, timeout=timeout, env=self._env(), **kwargs)

    def _failed(self, done: subprocess.CompletedProcess[bytes]) -> TransportError:
        text = done.stderr.decode(errors="replace").strip()
        if "REMOTE HOST IDENTIFICATION HAS CHANGED" in text or "Host key verification failed" in text:
            return HostKeyError(f"ssh refused the host key of {self.where}: {text[-600:]}")
        hint = ""
        if "keyboard-interactive" in text and not self.destination.mfa_command:
            hint = (
                "; the host asks for more than the key (e.g. a one-time code): set mfa_command, or run from a terminal"
            )
        return TransportError(f"ssh to {self.where} failed: {text[-600:] or 'exit code 255'}{hint}")

    # --- commands --------------------------------------------------------------------------

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = 120,
        idempotent: bool = True,
    ) -> Completed:
        from .ssh_transport import SSHTransport  # the same quoting rules for both clients

        command = SSHTransport.command_line(argv, env)
        try:
            done = self._ssh(command, (input or "").encode(), timeout)
        except subprocess.TimeoutExpired:
            if not idempotent:
                raise CommandOutcomeUnknown(f"`{command}` on {self.where} did not finish within {timeout} s") from None
            return Completed(argv, 124, "", f"timed out after {timeout} s on {self.where}")
        if done.returncode == SSH_ERROR:
            error = self._failed(done)
            if not idempotent and not isinstance(error, HostKeyError):
                raise CommandOutcomeUnknown(
                    f"the outcome of `{command}` on {self.where} is unknown: the request may have reached the host "
                    f"({error})"
                )
            raise error
        return Completed(
            argv, done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
        )

    # --- files -----------------------------------------------------------------------------

    def put(self, local: Path, remote: str, mode: int = 0o600) -> None:
        directory, name = remote.rsplit("/", 1) if "/" in remote else (".", remote)
        tmp = f"{directory}/.{name}.{uuid.uuid4().hex[:12]}.tmp"
        script = 'umask 077 && cat > "$1" && chmod "$3" "$1" && mv -f "$1" "$2"'
        command = shlex.join(["sh", "-c", script, "sh", tmp, remote, format(mode, "o")])
        with open(local, "rb") as source:
            done = self._ssh(command, source, None)
        if done.returncode != 0:
            raise TransportError(f"cannot upload {local} to {self.where}:{remote}: {done.stderr.decode().strip()}")
        self.bytes_sent += Path(local).stat().st_size

    def get(self, remote: str, local: Path) -> bool:
        local = Path(local)
        local.parent.mkdir(parents=True, exist_ok=True)
        script = f'[ -e "$1" ] || exit {_MISSING}; exec cat -- "$1"'
        done = self._ssh(shlex.join(["sh", "-c", script, "sh", remote]), None, None)
        if done.returncode == _MISSING:
            return False
        if done.returncode != 0:
            raise TransportError(f"cannot download {self.where}:{remote}: {done.stderr.decode().strip()}")
        tmp = local.with_name(f".{local.name}.{os.getpid()}.tmp")
        tmp.write_bytes(done.stdout)
        os.replace(tmp, local)
        self.bytes_received += len(done.stdout)
        return True

    def close(self) -> None:
        """Leave the master running: it serves other processes until ControlPersist ends."""

    def stop_master(self) -> None:
        """End the shared master connection now (``ssh -O exit``)."""
        argv = self._argv("true")
        subprocess.run([*argv[:-3], "-O", "exit", "--", self.destination.host], capture_output=True, timeout=30)
