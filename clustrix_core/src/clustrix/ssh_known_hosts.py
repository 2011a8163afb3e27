"""known_hosts files read the way OpenSSH reads them.

Every file is read (the user's, ``UserKnownHostsFile`` from the ssh config, and the
system-wide ``GlobalKnownHostsFile``, ``/etc/ssh/ssh_known_hosts`` by default), with
host patterns (``*``, ``?``, ``!negation``, ``[host]:port``), hashed names
(``|1|salt|hash``, from ``ssh-keygen -H``) and the two markers: ``@revoked`` (that key is
never accepted) and ``@cert-authority`` (hosts matching the pattern are vouched for by a
CA). paramiko's own reader knows neither marker and fails on the whole file, so the
paramiko transport is given no known hosts and :class:`HostKeyCheck` decides on every key.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import hmac
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import paramiko

from .errors import HostKeyError

if TYPE_CHECKING:
    from .ssh_endpoint import Endpoint

log = logging.getLogger("clustrix.ssh")


@dataclass(frozen=True)
class Entry:
    marker: str  # "", "@revoked" or "@cert-authority"
    patterns: tuple[str, ...]
    key_type: str
    key: bytes  # the decoded public key blob
    where: str  # "file:line", for messages

    def matches(self, name: str) -> bool:
        """True when ``name`` (``host`` or ``[host]:port``) is one of this line's hosts."""
        positive = False
        for pattern in self.patterns:
            negated = pattern.startswith("!")
            if _match(pattern[1:] if negated else pattern, name):
                if negated:
                    return False
                positive = True
        return positive


def _match(pattern: str, name: str) -> bool:
    if pattern.startswith("|1|"):
        try:
            salt, digest = (base64.b64decode(p) for p in pattern[3:].split("|", 1))
        except (ValueError, binascii.Error):
            return False
        return hmac.compare_digest(hmac.new(salt, name.encode(), hashlib.sha1).digest(), digest)
    if "[" not in pattern:  # fnmatch would read [...] as a character class
        return fnmatch.fnmatchcase(name.lower(), pattern.lower())
    return name.lower() == pattern.lower()


def parse(text: str, source: str) -> list[Entry]:
    """The usable lines of one known_hosts file; a malformed line is skipped (as OpenSSH does)."""
    entries = []
    for number, raw in enumerate(text.splitlines(), 1):
        fields = raw.split()
        if not fields or fields[0].startswith("#"):
            continue
        marker = fields.pop(0) if fields[0].startswith("@") else ""
        if marker not in ("", "@revoked", "@cert-authority") or len(fields) < 3:
            log.info("%s:%d: not a known_hosts line, skipped", source, number)
            continue
        try:
            blob = base64.b64decode(fields[2], validate=True)
        except (ValueError, binascii.Error):
            log.info("%s:%d: key is not base64, skipped", source, number)
            continue
        entries.append(Entry(marker, tuple(fields[0].split(",")), fields[1], blob, f"{source}:{number}"))
    return entries


def load(paths: list[str]) -> list[Entry]:
    entries = []
    for path in paths:
        try:
            entries += parse(Path(path).read_text(errors="replace"), path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("cannot read known_hosts file %s: %s", path, exc)
    return entries


@dataclass(frozen=True)
class Verdict:
    """What the files say about one host's key: known, changed, revoked, CA-vouched or unknown."""

    state: str  # "known", "revoked", "changed", "cert-authority", "unknown"
    where: str = ""


def check(entries: list[Entry], name: str, key_type: str, key: bytes) -> Verdict:
    """OpenSSH's order: a revoked key is refused first; then a listed key is accepted; a
    different key of the same type listed for the host means it changed."""
    for e in entries:
        if e.marker == "@revoked" and e.key == key:
            return Verdict("revoked", e.where)
    mine = [e for e in entries if e.marker != "@revoked" and e.matches(name)]
    for e in mine:
        if not e.marker and e.key == key:
            return Verdict("known", e.where)
    for e in mine:
        if not e.marker and e.key_type == key_type:
            return Verdict("changed", e.where)
    for e in mine:
        if e.marker == "@cert-authority":
            return Verdict("cert-authority", e.where)
    return Verdict("unknown")


class HostKeyCheck(paramiko.MissingHostKeyPolicy):
    """The host-key check, done here for every key (paramiko is given no known hosts): the
    user's and the global known_hosts files as OpenSSH reads them, markers included."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        e = self.endpoint
        files = [e.known_hosts, *e.extra_known_hosts, *e.global_known_hosts]
        verdict = check(load(files), e.key_name, key.get_name(), key.asbytes())
        seen = f"{key.get_name()} {key.fingerprint}"
        if verdict.state == "known":
            return
        if verdict.state == "revoked":
            raise HostKeyError(
                f"the host key of {e.key_name} ({seen}) is revoked ({verdict.where}): Clustrix will not connect. "
                "Ask the site for the host's current key"
            )
        if verdict.state == "changed":
            raise HostKeyError(
                f"the host key of {e.key_name} ({seen}) does not match the one in known_hosts ({verdict.where}): "
                f"someone may be intercepting the connection, or the host was reinstalled. If you trust the "
                f"new key, remove the old one with `ssh-keygen -R '{e.key_name}' -f {e.known_hosts}` and add "
                f"the new one (ssh-keyscan or connect once with ssh)"
            )
        if verdict.state == "cert-authority":
            raise HostKeyError(
                f"{e.key_name} is trusted through a host certificate authority ({verdict.where}), and the "
                f"paramiko SSH client cannot verify host certificates (it was shown the plain key {seen}). Use "
                'the system OpenSSH client, which does: ssh_client = "openssh"; or check that fingerprint with '
                f"your site and add the host's own key: `ssh-keyscan -p {e.port} {e.hostname} >> {e.known_hosts}`"
            )
        if e.policy == "accept-new":
            self._record(client, hostname, key)
            return
        raise HostKeyError(
            f"the host key of {hostname} ({seen}) is not in {e.known_hosts}"
            f"{' or ' + ', '.join(e.extra_known_hosts) if e.extra_known_hosts else ''}. Check the fingerprint, "
            f"then add it with `ssh-keyscan -p {e.port} {e.hostname} >> {e.known_hosts}` or by connecting once "
            f"with `ssh -p {e.port} {e.username}@{e.hostname}`; or opt in with host_key_policy='accept-new'"
        )

    def _record(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        """accept-new: record an unknown host's key in known_hosts (a changed key is still refused)."""
        path = Path(self.endpoint.known_hosts)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as f:
            f.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
        log.warning("recorded new host key of %s (%s) in %s", hostname, key.fingerprint, path)
