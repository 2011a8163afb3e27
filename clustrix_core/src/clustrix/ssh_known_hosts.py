"""known_hosts files read the way OpenSSH reads them.

Every file is read (the user's, ``UserKnownHostsFile`` from the ssh config, and the
system-wide ``GlobalKnownHostsFile``, ``/etc/ssh/ssh_known_hosts`` by default), with
host patterns (``*``, ``?``, ``!negation``, ``[host]:port``), hashed names
(``|1|salt|hash``, from ``ssh-keygen -H``) and the two markers: ``@revoked`` (that key is
never accepted) and ``@cert-authority`` (hosts matching the pattern are vouched for by a
CA). paramiko's own reader knows neither marker and fails on the whole file.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import hmac
import logging
from dataclasses import dataclass
from pathlib import Path

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
