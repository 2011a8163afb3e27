"""SSHTransport: commands and files on a remote host over one paramiko connection.

One connection per endpoint (host, port, user, keys, host-key rules) is shared by every
job and the watcher of every target that reaches it: each command is a channel, files
go through one SFTP session. A dropped connection is re-opened with backoff on next use.

Every wait on the host (connect, authentication, channel open, the reply to an exec or
subsystem request, sending, receiving, SFTP) is bounded by the ``ssh_timeout`` setting:
a stalled host raises :class:`~clustrix.errors.TransportError` instead of freezing the
thread (and the target's watcher) that asked. A command whose request may have reached
the host is never re-executed; for one sent with ``idempotent=False`` (a submission) an
unknown outcome raises :class:`~clustrix.errors.CommandOutcomeUnknown`.

``~/.ssh/config`` is honoured through ``paramiko.SSHConfig`` (HostName, User, Port,
IdentityFile, ProxyJump, ProxyCommand, UserKnownHostsFile, GlobalKnownHostsFile); the
agent is used when it runs. With both ProxyJump and ProxyCommand set, ProxyJump is used. Host keys are checked against the known_hosts files as OpenSSH reads them
(:mod:`clustrix.ssh_known_hosts`), strictly unless ``host_key_policy="accept-new"``
(record unknown keys, like OpenSSH's ``StrictHostKeyChecking=accept-new``); a changed or
revoked key is always refused.
"""

from __future__ import annotations

import functools
import logging
import os
import select
import shlex
import socket
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import paramiko
from paramiko.common import cMSG_CHANNEL_REQUEST

from .config import ENV_NAME
from .errors import CommandOutcomeUnknown, HostKeyError, TransportError
from .ssh_endpoint import DEFAULT_TIMEOUT, Endpoint, hop_of, resolve_endpoint
from .ssh_known_hosts import HostKeyCheck
from .ssh_prompts import SiteTransport, can_ask_user
from .transport import Completed, RemoteTransport, Transport

log = logging.getLogger("clustrix.ssh")
__all__ = ["DEFAULT_TIMEOUT", "Endpoint", "SSHTransport", "resolve_endpoint", "transport_for"]

#: waits before each connection attempt when (re)connecting, within the ssh_timeout deadline
RECONNECT_DELAYS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0)
CHUNK = 1 << 20
#: network errors worth a reconnect (authentication and host-key errors are not)
NETWORK_ERRORS = (OSError, EOFError, paramiko.SSHException)


class _Stalled(TransportError):
    """A request was sent and no answer came (or the connection died): it may have run."""


class SSHTransport(RemoteTransport):
    """Commands as channels and files over SFTP, on one shared connection per endpoint."""

    _shared: ClassVar[dict[Endpoint, SSHTransport]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.where = endpoint.where
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._jump: SSHTransport | None = None
        self._lock = threading.RLock()
        self._sftp_lock = threading.Lock()
        self._home: str | None = None
        self.connects = 0  # connections opened (1 unless the connection dropped)
        self.proxy_commands = 0  # ProxyCommand processes started
        self.bytes_sent = 0  # file bytes uploaded (payloads, job files)
        self.bytes_received = 0

    @classmethod
    def for_settings(cls, settings: Mapping[str, Any]) -> SSHTransport:
        """The process-wide transport of the endpoint these settings resolve to."""
        return cls.for_endpoint(resolve_endpoint(settings))

    @classmethod
    def for_endpoint(cls, endpoint: Endpoint) -> SSHTransport:
        with cls._shared_lock:
            transport = cls._shared.get(endpoint)
            if transport is None:
                transport = cls._shared[endpoint] = cls(endpoint)
            return transport

    # --- connection ------------------------------------------------------------------

    def _connect_once(self, timeout: float) -> paramiko.SSHClient:
        e = self.endpoint
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(HostKeyCheck(e))
        sock: Any = None
        if e.proxy_jump:
            self._jump = self._jump or SSHTransport.for_endpoint(hop_of(e))
            sock = self._jump.connection().open_channel(
                "direct-tcpip", (e.hostname, e.port), ("127.0.0.1", 0), timeout=timeout
            )
        elif e.proxy_command:  # run by the shell, as OpenSSH does; its stdin/stdout carry the connection
            sock = paramiko.ProxyCommand(shlex.join(["/bin/sh", "-c", f"exec {e.proxy_command}"]))
            sock.settimeout(timeout)
            self.proxy_commands += 1
        try:
            client.connect(
                e.hostname,
                port=e.port,
                username=e.username,
                key_filename=list(e.key_files) or None,  # type: ignore[arg-type]  # accepts a list
                look_for_keys=not e.key_files,
                allow_agent=True,
                timeout=timeout,
                banner_timeout=timeout,
                # a person typing a one-time code gets two minutes, a command or the host no more than ssh_timeout
                auth_timeout=timeout if e.mfa_command or not can_ask_user() else max(timeout, 120.0),
                channel_timeout=timeout,
                sock=sock,
                transport_factory=functools.partial(
                    SiteTransport, mfa_command=e.mfa_command, where=e.where, timeout=timeout
                ),
            )
        except paramiko.AuthenticationException as exc:
            client.close()
            tried = ", ".join(e.key_files) or "default keys in ~/.ssh"
            raise TransportError(
                f"authentication as {e.where} failed ({exc}); tried {tried} and the ssh agent. "
                "Set key_file= or an IdentityFile in your ssh config"
            ) from None
        except BaseException:
            client.close()
            raise
        transport = client.get_transport()
        assert transport is not None
        transport.set_keepalive(15)
        if isinstance(transport.sock, socket.socket):  # no Nagle delay on each small request
            transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return client

    def connection(self) -> paramiko.Transport:
        """The live paramiko transport, (re)connecting with backoff within ``ssh_timeout`` if it dropped."""
        with self._lock:
            if self._client is not None:
                live = self._client.get_transport()
                if live is not None and live.is_active():
                    return live
                self._drop_locked()
            deadline = time.monotonic() + self.endpoint.timeout
            last: BaseException | None = None
            attempts = 0
            for delay in RECONNECT_DELAYS:
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                remaining = deadline - time.monotonic()
                if attempts and remaining <= 0:
                    break
                attempts += 1
                try:
                    self._client = self._connect_once(max(remaining, 1.0))
                except (HostKeyError, TransportError):
                    raise
                except NETWORK_ERRORS as exc:
                    last = exc
                    log.info("connecting to %s failed (%s); retrying", self.where, exc)
                    continue
                self.connects += 1
                transport = self._client.get_transport()
                assert transport is not None
                return transport
            raise TransportError(
                f"cannot connect to {self.where} within ssh_timeout={self.endpoint.timeout:g} s "
                f"({attempts} attempts): {last or 'no answer'}. Check that the host is up and reachable "
                "(`clustrix doctor`), or raise ssh_timeout for a slow login node"
            )

    def _drop_locked(self) -> None:
        with self._sftp_lock:
            self._sftp = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def close(self) -> None:
        with self._lock:
            self._drop_locked()

    def _abandon(self, transport: paramiko.Transport) -> None:
        """After a request went unanswered: close the connection unless it still answers a
        keepalive within ssh_timeout (a busy host is slow to start a command, but its other
        channels, e.g. a long environment build, must not be cut); the next use reconnects."""
        if transport.is_active():
            probe = threading.Thread(
                target=transport.global_request, args=("keepalive@openssh.com",), kwargs={"wait": True}, daemon=True
            )
            probe.start()
            probe.join(self.endpoint.timeout)
            if not probe.is_alive() and transport.is_active():
                log.warning("%s is slow: a request went unanswered, but the connection is alive", self.where)
                return
        log.warning("%s stopped answering; closing the connection", self.where)
        with self._lock:
            if self._client is not None and self._client.get_transport() is transport:
                self._drop_locked()

    def _session(self) -> paramiko.Channel:
        """A new channel; a dead connection is re-opened once (nothing was sent yet, so it is safe)."""
        for attempt in (1, 2):
            transport = self.connection()
            try:
                channel = transport.open_session(timeout=self.endpoint.timeout)
            except NETWORK_ERRORS as exc:
                if attempt == 2:
                    raise TransportError(f"{self.where} opened no channel within ssh_timeout: {exc}") from None
                with self._lock:
                    if self._client is not None and self._client.get_transport() is transport:
                        self._drop_locked()
                continue
            channel.settimeout(self.endpoint.timeout)  # bounds every send and receive on it
            return channel
        raise AssertionError("unreachable")

    def _request(self, channel: paramiko.Channel, kind: str, argument: str) -> bool:
        """Send an ``exec``/``subsystem`` request and wait for the host's answer within ssh_timeout.

        paramiko's own ``exec_command`` waits for that answer without any bound. Returns
        False when the request never left (the connection was already dead: safe to repeat);
        raises when it was sent and then no answer came or the connection died.
        """
        transport = channel.get_transport()
        if not transport.is_active():
            return False
        message = paramiko.Message()
        message.add_byte(cMSG_CHANNEL_REQUEST)
        message.add_int(channel.remote_chanid)
        message.add_string(kind)
        message.add_boolean(True)
        message.add_string(argument)
        # what paramiko's exec_command does, minus its unbounded wait for the answer
        channel._event_pending()  # type: ignore[attr-defined]
        transport._send_user_message(message)  # type: ignore[attr-defined]
        if not channel.event.wait(self.endpoint.timeout):
            channel.close()
            raise _Stalled(
                f"{self.where} did not answer the {kind} request within ssh_timeout="
                f"{self.endpoint.timeout:g} s: the host is stalled or overloaded"
            )
        if channel.event_ready:
            return True
        if transport.is_active():
            raise TransportError(f"{self.where} refused the {kind} request ({argument.split()[0]!r})")
        raise _Stalled(f"lost the connection to {self.where} after sending the {kind} request")

    # --- commands --------------------------------------------------------------------

    @staticmethod
    def command_words(argv: Sequence[str], env: Mapping[str, str] | None = None) -> list[str]:
        """``argv``, preceded by ``env K=V ...`` when ``env`` is given (names checked)."""
        words = list(argv)
        if env:
            bad = [k for k in env if not ENV_NAME.match(k)]
            if bad:
                raise TransportError(f"invalid environment variable names: {bad}")
            words = ["env", *(f"{k}={v}" for k, v in env.items()), *words]
        return words

    @classmethod
    def command_line(cls, argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
        """The shell line for ``argv``: every word quoted, env values passed through ``env``."""
        return shlex.join(cls.command_words(argv, env))

    @classmethod
    def _wire_line(cls, argv: Sequence[str], env: Mapping[str, str] | None, has_input: bool) -> str:
        """The line sent to the host: ``command_line``, arranged so that we never send an EOF
        after the host may have closed the channel.

        The host closes a channel as soon as its command has exited. paramiko sends our EOF
        outside the channel's lock, so it can follow our answer to that close, reach a channel
        the host has already freed, and OpenSSH then drops the whole connection ("ieof packet
        referred to nonexistent channel"): every command on it is lost and an MFA login
        prompts again. So a command without input reads /dev/null (we send no EOF at all), and
        one with input is followed by a drain of its stdin, so it cannot exit before our EOF
        has arrived.
        """
        words = cls.command_words(argv, env)
        if has_input:
            return shlex.join(["sh", "-c", '"$@"; rc=$?; cat >/dev/null; exit $rc', "sh", *words])
        return shlex.join(words) + " </dev/null"

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = 120,
        idempotent: bool = True,
    ) -> Completed:
        command = self.command_line(argv, env)
        wire = self._wire_line(argv, env, bool(input))
        unknown = f"the outcome of `{command}` on {self.where} is unknown: the request may have reached the host"
        for attempt in (1, 2):
            channel = self._session()
            try:
                if self._request(channel, "exec", wire):
                    break
            except _Stalled as exc:
                self._abandon(channel.get_transport())
                if not idempotent:
                    raise CommandOutcomeUnknown(f"{unknown} ({exc})") from None
                raise TransportError(str(exc)) from None
            channel.close()  # the request never left: safe to repeat on a fresh connection
            if attempt == 2:
                raise TransportError(f"lost the connection to {self.where} starting `{command}`")
        with channel:
            try:
                if input:
                    channel.sendall(input.encode())
                    channel.shutdown_write()  # safe: the host drains stdin until this EOF (_wire_line)
                out, err, timed_out = self._collect(channel, timeout)
            except NETWORK_ERRORS as exc:
                if not idempotent:
                    raise CommandOutcomeUnknown(f"{unknown} ({exc})") from None
                raise TransportError(f"lost the connection to {self.where} while running `{command}`: {exc}") from None
            if timed_out:
                if not idempotent:
                    raise CommandOutcomeUnknown(f"{unknown} (no exit within {timeout} s)")
                return Completed(argv, 124, out, err + f"\ntimed out after {timeout} s on {self.where}")
            code = channel.recv_exit_status()
        if code == -1:
            if not idempotent:
                raise CommandOutcomeUnknown(f"{unknown} (the connection dropped before its exit status)")
            raise TransportError(f"lost the connection to {self.where} while running `{command}`")
        return Completed(argv, code, out, err)

    @staticmethod
    def _collect(channel: paramiko.Channel, timeout: float | None) -> tuple[str, str, bool]:
        out, err = bytearray(), bytearray()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            while channel.recv_ready():
                out += channel.recv(CHUNK)
            while channel.recv_stderr_ready():
                err += channel.recv_stderr(CHUNK)
            drained = not channel.recv_ready() and not channel.recv_stderr_ready()
            if channel.exit_status_ready() and drained and (channel.eof_received or channel.closed):
                break
            remaining = 1.0 if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return out.decode(errors="replace"), err.decode(errors="replace"), True
            select.select([channel], [], [], min(remaining, 1.0))
        return out.decode(errors="replace"), err.decode(errors="replace"), False

    # --- files -----------------------------------------------------------------------

    def _open_sftp(self, transport: paramiko.Transport) -> paramiko.SFTPClient:
        """An SFTP session whose every wait (open, subsystem reply, each response) is bounded."""
        channel = transport.open_session(timeout=self.endpoint.timeout)
        channel.settimeout(self.endpoint.timeout)
        if not self._request(channel, "subsystem", "sftp"):
            raise EOFError("connection closed before the SFTP request was sent")
        return paramiko.SFTPClient(channel)

    def _sftp_call(self, op: Any) -> Any:
        """Run ``op(sftp)``; on a dropped connection reconnect and run it once more (ops are idempotent).

        One operation at a time: paramiko's SFTPClient is not safe for concurrent requests
        from several threads (a response can be read by the wrong thread, leaving the other
        waiting forever), and jobs and the watcher share this connection. A stalled server
        raises after ``ssh_timeout`` instead of hanging, and the connection is abandoned
        (a late answer would be read as the reply to the next request).
        """
        for attempt in (1, 2):
            transport = self.connection()
            with self._sftp_lock:
                try:
                    sftp = self._sftp
                    channel = sftp.get_channel() if sftp is not None else None
                    if sftp is None or channel is None or channel.closed:
                        sftp = self._sftp = self._open_sftp(transport)
                    return op(sftp)
                except (_Stalled, TimeoutError):
                    self._sftp = None
                except NETWORK_ERRORS as exc:
                    if transport.is_active() or attempt == 2:
                        raise
                    log.info("connection to %s dropped during a transfer (%s); reconnecting", self.where, exc)
                    continue
            self._abandon(transport)
            raise TransportError(
                f"{self.where} did not answer an SFTP request within ssh_timeout={self.endpoint.timeout:g} s: "
                "the host is stalled or overloaded"
            )
        raise AssertionError("unreachable")

    def put(self, local: Path, remote: str, mode: int = 0o600) -> None:
        directory, name = remote.rsplit("/", 1) if "/" in remote else (".", remote)
        tmp = f"{directory}/.{name}.{uuid.uuid4().hex[:12]}.tmp"

        def upload(sftp: paramiko.SFTPClient) -> None:
            sent = 0
            with open(local, "rb") as source, sftp.open(tmp, "wb") as f:
                f.chmod(mode)
                f.set_pipelined(True)
                while chunk := source.read(CHUNK):
                    f.write(chunk)
                    sent += len(chunk)
            sftp.posix_rename(tmp, remote)
            self.bytes_sent += sent

        try:
            self._sftp_call(upload)
        except OSError as exc:
            raise TransportError(f"cannot upload {local} to {self.where}:{remote}: {exc}") from exc

    def get(self, remote: str, local: Path) -> bool:
        local = Path(local)
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f".{local.name}.{os.getpid()}.tmp")

        def download(sftp: paramiko.SFTPClient) -> bool:
            try:
                with sftp.open(remote, "rb") as f:
                    f.prefetch()
                    data = f.read()
            except FileNotFoundError:
                return False
            tmp.write_bytes(data)
            os.replace(tmp, local)
            self.bytes_received += len(data)
            return True

        result: bool = self._sftp_call(download)
        return result


def transport_for(settings: Mapping[str, Any]) -> Transport:
    """The process-wide transport to the host these settings name, by the ``ssh_client`` setting."""
    if settings.get("ssh_client") == "openssh":
        from .openssh_transport import OpenSSHTransport

        return OpenSSHTransport.for_settings(settings)
    return SSHTransport.for_settings(settings)
