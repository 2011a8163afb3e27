"""SSH servers that stop answering, for the deadline tests.

``StallingServer`` is a real SSH server (paramiko's server side) that logs in any client
key, opens session channels, and then never answers the request named by ``stall``
("exec" or "subsystem"), or answers the SFTP subsystem and then never says a word
("sftp-silent"). ``SilentListener`` accepts TCP connections and never sends a banner.
``FreezingProxy`` relays a port to the real sshd until ``freeze()``: from then on it
relays nothing in either direction (a login node that stalls under load, or a network
path that went dark), until ``thaw()``.
"""

from __future__ import annotations

import select
import socket
import threading
from pathlib import Path
from typing import Any

import paramiko


class _Interface(paramiko.ServerInterface):
    def __init__(self, server: StallingServer) -> None:
        self.server = server

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        return paramiko.AUTH_SUCCESSFUL

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def _stall(self, request: str) -> bool:
        """Block this connection's server thread (nothing more is ever answered) until released."""
        self.server.requests.append(request)
        self.server.release.wait()
        return False

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        if self.server.stall == "exec":
            return self._stall("exec")
        return False

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        if self.server.stall == "subsystem":
            return self._stall("subsystem")
        self.server.requests.append("subsystem")
        return self.server.stall == "sftp-silent"  # accepted; nobody will ever answer on it


class StallingServer:
    """An SSH server on 127.0.0.1 that accepts the login and the channel, then stalls."""

    def __init__(self, directory: Path, stall: str = "exec") -> None:
        self.stall = stall
        self.host_key = paramiko.RSAKey.generate(2048)
        self.release = threading.Event()
        self.requests: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._transports: list[paramiko.Transport] = []
        self.known_hosts = directory / "stall_known_hosts"
        self.known_hosts.write_text(
            f"[127.0.0.1]:{self.port} {self.host_key.get_name()} {self.host_key.get_base64()}\n"
        )
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            transport = paramiko.Transport(conn)
            transport.add_server_key(self.host_key)
            transport.start_server(server=_Interface(self))
            self._transports.append(transport)

    def close(self) -> None:
        self.release.set()
        self._listener.close()
        for transport in self._transports:
            transport.close()


class SilentListener:
    """Accepts TCP connections on 127.0.0.1 and never sends the SSH banner."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(conn)

    def close(self) -> None:
        self._listener.close()
        for conn in self._held:
            conn.close()


class FreezingProxy:
    """A TCP relay from a free loopback port to ``target`` that can be frozen and thawed."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = False
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._sockets += [client, upstream]
            threading.Thread(target=self._relay, args=(client, upstream), daemon=True).start()

    def _relay(self, a: socket.socket, b: socket.socket) -> None:
        peers: dict[Any, socket.socket] = {a: b, b: a}
        try:
            while not self._closed:
                self._flowing.wait()
                ready, _, _ = select.select([a, b], [], [], 0.2)
                for sock in ready:
                    if not self._flowing.is_set():
                        break  # frozen while waiting: hold the bytes in the kernel buffers
                    data = sock.recv(1 << 16)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except OSError:
            return
        finally:
            a.close()
            b.close()

    def close(self) -> None:
        self._closed = True
        self._flowing.set()
        self._listener.close()
        for sock in self._sockets:
            sock.close()
