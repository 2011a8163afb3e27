"""Memory and time as users write them."""

from __future__ import annotations

import pytest

from clustrix import ConfigError
from clustrix.quantities import hms, mebibytes, parse_memory, parse_time


@pytest.mark.parametrize(
    "text, size",
    [
        ("16GB", 16 * 10**9),
        ("512MB", 512 * 10**6),
        ("2Gi", 2 * 2**30),
        ("2GiB", 2 * 2**30),
        ("4G", 4 * 2**30),
        ("1.5G", int(1.5 * 2**30)),
        ("100m", 100 * 2**20),
        ("1024", 1024 * 2**20),
        (2048, 2048 * 2**20),
    ],
)
def test_memory_sizes(text, size):
    assert parse_memory(text) == size


@pytest.mark.parametrize("bad", ["lots", "16 gigs", "-1G", "0", "G", "16XB", True])
def test_bad_memory_is_rejected_with_examples(bad):
    with pytest.raises(ConfigError, match="memory"):
        parse_memory(bad)


def test_mebibytes_round_up():
    assert mebibytes(parse_memory("16GB")) == 15259
    assert mebibytes(1) == 1


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("00:05:00", 300),
        ("02:00:00", 7200),
        ("05:30", 330),
        ("90", 5400),
        (90, 5400),
        ("1-12:00:00", 129600),
        ("2-0", 172800),
        ("90s", 90),
        ("30m", 1800),
        ("2h", 7200),
        ("1d", 86400),
        ("100:00:00", 360000),
    ],
)
def test_time_limits(text, seconds):
    assert parse_time(text) == seconds


@pytest.mark.parametrize("bad", ["25:99", "soon", "1:2:3:4", "0", "-5m", "1-25:00"])
def test_bad_time_is_rejected_with_examples(bad):
    with pytest.raises(ConfigError, match="time"):
        parse_time(bad)


def test_hms():
    assert hms(129600) == "36:00:00"
