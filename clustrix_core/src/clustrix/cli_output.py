"""What every `clustrix` command shares: exit codes, error reporting, ages, tables, JSON.

Exit codes: 0 the command did what was asked; 1 the operation failed (unknown job, a
job that failed, an unreachable host); 2 a usage or configuration error (bad option,
malformed config file, backend not installed).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from typing import Any

import click

from .errors import ClustrixError, ConfigError

OK, FAILED, USAGE = 0, 1, 2

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


class Failed(click.ClickException):
    """The operation failed: exit code 1, message on stderr."""

    exit_code = FAILED


class BadConfig(click.ClickException):
    """Configuration (or an installed-backend) problem: exit code 2."""

    exit_code = USAGE


def as_click_error(exc: ClustrixError) -> click.ClickException:
    """Map Clustrix's errors onto the CLI's exit codes."""
    if isinstance(exc, ConfigError):
        return BadConfig(str(exc))
    return Failed(str(exc))


class ClustrixGroup(click.Group):
    """A click group that turns Clustrix errors raised by any command into exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClustrixError as exc:
            raise as_click_error(exc) from None


class Age(click.ParamType):
    """A duration such as ``90s``, ``30m``, ``12h``, ``7d``, ``2w`` (plain numbers are seconds)."""

    name = "AGE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        match = _AGE.match(str(value))
        if not match:
            self.fail(f"{value!r} is not an age; use a number with a unit s/m/h/d/w, e.g. 30m or 7d", param, ctx)
        return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def ago(timestamp: float | None, now: float | None = None) -> str:
    """'5s ago', '3m ago', '2h ago', '4d ago' — short enough for a table column."""
    if not timestamp:
        return "-"
    seconds = max(0.0, (now or time.time()) - timestamp)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned text table (no box drawing: it must survive `| grep`)."""
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


#: what `clustrix jobs` shows instead of an ``env`` value (they hold tokens), unless --show-env
MASK = "****"


def masked_settings(settings: dict[str, Any], show_env: bool) -> dict[str, Any]:
    """The settings with every ``env`` value replaced by :data:`MASK` (names stay)."""
    if show_env or not settings.get("env"):
        return settings
    return {**settings, "env": dict.fromkeys(settings["env"], MASK)}


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
