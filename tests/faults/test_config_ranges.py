"""Always fails before submission: a number outside its setting's range.

Each numeric setting declares its range (``minimum``/``above``/``maximum`` on the
Setting, shown in the settings reference); a value outside it is a ConfigError where it
is given, naming the key and the range. A boolean is not a number of cores.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from clustrix import ConfigError, cluster, configure
from clustrix.lifecycle import render
from clustrix.plugins import manager

#: the values the audit found accepted, and a few more at the edges
BAD = [
    ("cores", -1, "1 or more"),
    ("cores", 0, "1 or more"),
    ("gpus", -2, "0 or more"),
    ("nodes", -3, "1 or more"),
    ("nodes", 0, "1 or more"),
    ("max_workers", -1, "1 or more"),
    ("tasks_per_job", -5, "1 or more"),
    ("tasks_per_job", 0, "1 or more"),
    ("max_concurrent", 0, "1 or more"),
    ("port", 99999, "1 to 65535"),
    ("port", 0, "1 to 65535"),
    ("poll_interval", 0, "more than 0"),
    ("poll_interval", -0.5, "more than 0"),
    ("max_poll_interval", -1, "more than 0"),
    ("max_poll_interval", 0, "more than 0"),
    ("result_grace", -1, "0 or more"),
    ("poll_interval", math.nan, "more than 0"),
    ("result_grace", math.inf, "0 or more"),
    ("k8s_backoff_limit", -1, "0 or more"),
    ("k8s_ttl_seconds", -1, "0 or more"),
    ("k8s_max_result_bytes", -1, "0 or more"),
]


@pytest.mark.parametrize(("key", "value", "allowed"), BAD)
def test_out_of_range_number_refused_at_decoration(key: str, value: Any, allowed: str) -> None:
    with pytest.raises(ConfigError, match=rf"{key}=\S+ is out of range: it must be {allowed}"):
        cluster(**{key: value})


@pytest.mark.parametrize(("key", "value", "allowed"), BAD[:12])
def test_out_of_range_number_refused_by_configure_and_environment(
    key: str, value: Any, allowed: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=f"configure\\(\\): {key}="):
        configure(**{key: value})
    monkeypatch.setenv(f"CLUSTRIX_{key.upper()}", str(value))
    with pytest.raises(ConfigError, match=f"env CLUSTRIX_{key.upper()}: {key}=.* it must be {allowed}"):
        render(lambda: 1, [((), {})], {}, tmp_path)


@pytest.mark.parametrize("key", ["cores", "gpus", "nodes", "port", "max_workers", "tasks_per_job"])
def test_boolean_is_not_a_number(key: str) -> None:
    with pytest.raises(ConfigError, match=f"{key} must be int, not True"):
        cluster(**{key: True})


def test_out_of_range_map_option_refused_before_packaging(clustrix_home: Path) -> None:
    @cluster
    def f(x: int) -> int:
        return x

    with pytest.raises(ConfigError, match="tasks_per_job=-5 is out of range"):
        f.map([1, 2, 3], tasks_per_job=-5)
    assert not (clustrix_home / "jobs").exists() or not any((clustrix_home / "jobs").iterdir())


def test_max_poll_interval_below_poll_interval_refused_naming_both_sources(tmp_path: Path) -> None:
    configure(poll_interval=2.0)
    with pytest.raises(ConfigError, match=r"max_poll_interval=0.5 \(from decorator\) is below poll_interval=2.0"):
        render(lambda: 1, [((), {})], {"max_poll_interval": 0.5}, tmp_path)


def test_values_at_the_edges_of_their_range_are_accepted() -> None:
    cluster(cores=1, gpus=0, nodes=1, port=1, max_workers=1, tasks_per_job=1, max_concurrent=1, result_grace=0)
    cluster(port=65535, poll_interval=0.001, max_poll_interval=0.001)


def test_every_numeric_setting_declares_its_range() -> None:
    """So that a plugin's int/float settings are range-checked and documented like the core's."""
    unranged = [
        f"{s.name} ({s.plugin})"
        for s in manager().settings().values()
        if (s.type in (int, float) or s.type == (int, float))
        and s.minimum is None
        and s.above is None
        and s.maximum is None
    ]
    assert unranged == []
