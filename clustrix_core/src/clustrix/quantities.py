"""Memory sizes and time limits as users write them, parsed once into bytes and seconds.

Memory units: ``KB MB GB TB`` are decimal (10**3 ...); ``K M G T``, ``Ki Mi Gi Ti`` and
``KiB MiB GiB TiB`` are binary (2**10 ...), as Slurm, PBS and SGE read them. A bare
number is megabytes (binary), as in ``sbatch --mem``.

Time limits: ``SS``-free forms Slurm accepts (``MM``, ``MM:SS``, ``HH:MM:SS``,
``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS``) and suffixed forms (``90s``, ``30m``, ``2h``,
``1d``). A bare integer is minutes, as in ``sbatch --time``.
"""

from __future__ import annotations

import math
import re

from .errors import ConfigError

_DECIMAL = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_BINARY = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTkmgt](?:i?[Bb]?|i)?)?\s*$")


def parse_memory(value: str | int | float) -> int:
    """Return a memory size in bytes, or raise ConfigError saying what is accepted."""
    if isinstance(value, bool):
        raise ConfigError(f"memory: {value!r} is not a size")
    if isinstance(value, (int, float)):
        if value <= 0:
            raise ConfigError(f"memory: {value!r} must be positive")
        return int(value * 2**20)
    m = _MEMORY.match(str(value))
    if not m:
        raise ConfigError(f"memory: cannot read {value!r}; write e.g. '16GB', '512MB', '2Gi' or '4G'")
    number, unit = float(m.group(1)), (m.group(2) or "M")
    letter = unit[0].upper()
    if unit.upper().endswith("B") and "i" not in unit:
        factor = _DECIMAL[letter + "B"]
    else:
        factor = _BINARY[letter]
    size = int(number * factor)
    if size <= 0:
        raise ConfigError(f"memory: {value!r} must be positive")
    return size


def mebibytes(size_bytes: int) -> int:
    """Bytes rounded up to whole MiB (what --mem=NM means)."""
    return max(1, math.ceil(size_bytes / 2**20))


_SUFFIXED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$", re.IGNORECASE)
_DAYS = re.compile(r"^(\d+)-(\d+)(?::(\d+))?(?::(\d+))?$")


def parse_time(value: str | int) -> int:
    """Return a time limit in seconds, or raise ConfigError saying what is accepted."""
    if isinstance(value, bool):
        raise ConfigError(f"time: {value!r} is not a duration")
    if isinstance(value, int):
        seconds = value * 60
    else:
        text = str(value).strip()
        parsed = _parse_time_text(text)
        if parsed is None:
            raise ConfigError(f"time: cannot read {value!r}; write e.g. '02:00:00', '1-12:00:00', '90m' or '2h'")
        seconds = parsed
    if seconds <= 0:
        raise ConfigError(f"time: {value!r} must be positive")
    return seconds


def _parse_time_text(text: str) -> int | None:
    m = _SUFFIXED.match(text)
    if m:
        scale = {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2).lower()]
        return int(float(m.group(1)) * scale)
    m = _DAYS.match(text)
    if m:
        days, hours = int(m.group(1)), int(m.group(2))
        minutes, secs = int(m.group(3) or 0), int(m.group(4) or 0)
        if hours > 23 or minutes > 59 or secs > 59:
            return None
        return days * 86400 + hours * 3600 + minutes * 60 + secs
    parts = text.split(":")
    if not all(p.isdigit() for p in parts) or not 1 <= len(parts) <= 3:
        return None
    nums = [int(p) for p in parts]
    if any(n > 59 for n in nums[1:]):
        return None
    if len(nums) == 1:
        return nums[0] * 60
    if len(nums) == 2:
        return nums[0] * 60 + nums[1]
    return nums[0] * 3600 + nums[1] * 60 + nums[2]


def hms(seconds: int) -> str:
    """Seconds as HH:MM:SS (hours may exceed 24), accepted by every scheduler."""
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}:{s:02d}"
