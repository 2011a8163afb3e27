"""Where an SSH connection goes: the settings and ``~/.ssh/config`` resolved into an Endpoint.

Settings win over the ssh config, which wins over OpenSSH's defaults. ``paramiko.SSHConfig``
reads the config (HostName, User, Port, IdentityFile, ProxyJump, ProxyCommand,
UserKnownHostsFile, GlobalKnownHostsFile; tokens such as ``%h`` expanded).
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import paramiko

from .errors import TransportError

#: OpenSSH's default GlobalKnownHostsFile
GLOBAL_KNOWN_HOSTS = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")
#: default of the ssh_timeout setting: seconds any one wait on the host may take
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Endpoint:
    """Everything that identifies one SSH connection, resolved from settings + ssh config."""

    host: str  # the name the user gave (an ssh config alias or a host name)
    hostname: str  # what to connect to
    port: int
    username: str
    key_files: tuple[str, ...] = ()
    known_hosts: str = "~/.ssh/known_hosts"  # checked, and written by accept-new
    extra_known_hosts: tuple[str, ...] = ()  # UserKnownHostsFile from ssh config (read only)
    global_known_hosts: tuple[str, ...] = GLOBAL_KNOWN_HOSTS  # GlobalKnownHostsFile (read only)
    policy: str = "strict"
    proxy_jump: str | None = None
    proxy_command: str | None = None  # ProxyCommand (tokens expanded), used when there is no ProxyJump
    mfa_command: str | None = None  # answers keyboard-interactive prompts (one-time codes)
    config_path: str | None = None
    timeout: float = DEFAULT_TIMEOUT  # ssh_timeout: bound of every wait on the host

    @property
    def where(self) -> str:
        return f"{self.username}@{self.hostname}:{self.port}"

    @property
    def key_name(self) -> str:
        """The name known_hosts files use for this host."""
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"

    def route(self) -> str:
        """The path a connection really takes, for ``clustrix doctor`` and messages."""
        if self.proxy_jump:
            hops: list[str] = []
            hop = self
            while hop.proxy_jump:
                hop = hop_of(hop)
                hops.insert(0, hop.where)
            return f"through ProxyJump {' -> '.join(hops)} -> {self.where}"
        if self.proxy_command:
            return f"through ProxyCommand `{self.proxy_command}` to {self.where}"
        return f"directly to {self.where}"


def _ssh_config(path: str | None) -> paramiko.SSHConfig:
    if path and os.path.isfile(os.path.expanduser(path)):
        return paramiko.SSHConfig.from_path(os.path.expanduser(path))
    return paramiko.SSHConfig()


def resolve_endpoint(settings: Mapping[str, Any]) -> Endpoint:
    """Settings win over the ssh config, which wins over OpenSSH's defaults."""
    host = str(settings["cluster_host"])
    config_path = settings.get("ssh_config") or "~/.ssh/config"
    found = _ssh_config(config_path).lookup(host)
    key_file = settings.get("key_file")
    keys = [key_file] if key_file else list(found.get("identityfile", []))
    extra = tuple(os.path.expanduser(f) for f in str(found.get("userknownhostsfile", "")).split() if f)
    jump = found.get("proxyjump")
    command = found.get("proxycommand")  # paramiko reads "none" as None
    global_files = str(found.get("globalknownhostsfile", "")).split()
    return Endpoint(
        host=host,
        hostname=found.get("hostname", host),
        port=int(settings.get("port") or found.get("port") or 22),
        username=settings.get("username") or found.get("user") or getpass.getuser(),
        key_files=tuple(os.path.expanduser(k) for k in keys),
        known_hosts=os.path.expanduser(settings.get("known_hosts") or "~/.ssh/known_hosts"),
        extra_known_hosts=extra,
        global_known_hosts=tuple(os.path.expanduser(f) for f in global_files) or GLOBAL_KNOWN_HOSTS,
        policy=settings.get("host_key_policy") or "strict",
        proxy_jump=None if not jump or jump.lower() == "none" else jump,
        proxy_command=command or None,
        mfa_command=settings.get("mfa_command") or None,
        config_path=config_path,
        timeout=float(settings.get("ssh_timeout") or DEFAULT_TIMEOUT),
    )


def hop_of(endpoint: Endpoint) -> Endpoint:
    """The last jump host of ``endpoint``'s ProxyJump chain (earlier hops become its own ProxyJump)."""
    assert endpoint.proxy_jump
    *before, last = [h.strip() for h in endpoint.proxy_jump.split(",")]
    match = re.fullmatch(r"(?:(?P<user>[^@]+)@)?(?P<host>\[[^\]]+\]|[^:]+)(?::(?P<port>\d+))?", last)
    if not match:
        raise TransportError(f"cannot parse ProxyJump hop {last!r} of {endpoint.host}")
    settings = {
        "cluster_host": match["host"].strip("[]"),
        "username": match["user"],
        "port": int(match["port"]) if match["port"] else None,
        "ssh_config": endpoint.config_path,
        "known_hosts": endpoint.known_hosts,
        "host_key_policy": endpoint.policy,
        "ssh_timeout": endpoint.timeout,
        "mfa_command": endpoint.mfa_command,
    }
    hop = resolve_endpoint(settings)
    return replace(hop, proxy_jump=",".join(before) or None, proxy_command=None)
