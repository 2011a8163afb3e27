"""Run the documentation's examples against real infrastructure, as a reader would run them.

Every page's code lives in docs/examples/ and is included into the pages with
``literalinclude``; these fixtures run the same files. A tutorial's ``clustrix.toml``
(docs/examples/config/NAME.toml, with placeholder hosts) is copied into the example's
working directory with the placeholders pointed at the loopback infrastructure, so a
key the code no longer accepts fails here. Outputs shown in the pages are golden files
(docs/examples/output/); ``CLUSTRIX_DOCS_UPDATE=1 pytest tests/docs`` rewrites them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from infrastructure import LOOPBACK_SSH, PBS_BIN, require
from k8s_emulator import CONTEXT
from k8s_emulator.fixtures import k8s_emulator  # noqa: F401  (the fixture)

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = DOCS / "examples"
OUTPUT = EXAMPLES / "output"
UPDATE = os.environ.get("CLUSTRIX_DOCS_UPDATE") == "1"

SSH_KEYS = {k: v for k, v in LOOPBACK_SSH.items() if k != "cluster_host"}

#: target -> (config file shown in the docs, infra it needs, values replacing its placeholders)
TARGETS: dict[str, tuple[str | None, tuple[str, ...], dict[str, Any]]] = {
    "local": (None, (), {}),
    "slurm": ("slurm-login.toml", ("slurm",), {"partition": "debug", "account": None}),
    "slurm-ssh": ("slurm-ssh.toml", ("slurm", "ssh"), {"cluster_host": "127.0.0.1", "partition": "debug", **SSH_KEYS}),
    "pbs": (
        "torque.toml",
        ("torque",),
        {"queue": None, "account": None, **{c: str(PBS_BIN / c) for c in ("qsub", "qstat", "qdel")}},
    ),
    "sge": ("sge.toml", ("sge",), {}),
    "ssh": ("ssh.toml", ("ssh",), {"cluster_host": "127.0.0.1", **SSH_KEYS}),
    "k8s": ("k8s.toml", (), {"k8s_namespace": "default"}),
}


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def dump_toml(data: Mapping[str, Any]) -> str:
    """Top-level keys and [profiles.NAME] tables: all a clustrix.toml holds."""
    lines = [f"{k} = {toml_value(v)}" for k, v in data.items() if k != "profiles"]
    for name, values in data.get("profiles", {}).items():
        lines += ["", f"[profiles.{name}]", *(f"{k} = {toml_value(v)}" for k, v in values.items())]
    return "\n".join(lines) + "\n"


def pointed_at_infra(shown: Path, overrides: Mapping[str, Any]) -> str:
    """The docs' config with its placeholders replaced (None removes a key)."""
    data = tomllib.loads(shown.read_text())
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return dump_toml(data)


def normalize(text: str) -> str:
    """Make a run's output comparable: job ids, runner paths and this checkout's path vary."""
    text = re.sub(r"\bc[0-9a-f]{16,20}\b", "c0a1b2c3d4e5f60718", text)
    text = re.sub(r'File "[^"]*/runner\.py"', 'File ".../runner.py"', text)
    text = re.sub(r"(?m)^[ ~^]*[~^][ ~^]*\n", "", text)  # Python 3.11+ error position markers
    home = os.environ.get("CLUSTRIX_HOME")
    if home:  # the test's isolated home stands where a user's default home would be
        text = text.replace(home, "~/.local/share/clustrix")
    return text.replace(str(EXAMPLES) + "/", "")


def check_golden(name: str, text: str) -> None:
    """Compare with docs/examples/output/NAME (rewritten with CLUSTRIX_DOCS_UPDATE=1)."""
    path = OUTPUT / name
    text = normalize(text)
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"{path} is missing: run CLUSTRIX_DOCS_UPDATE=1 pytest tests/docs"
    assert text == path.read_text(), (
        f"the output shown in the docs ({path.relative_to(DOCS.parent)}) is no longer what the code prints; "
        "if the change is intended, run CLUSTRIX_DOCS_UPDATE=1 pytest tests/docs and review the diff"
    )


@pytest.fixture(params=list(TARGETS))
def target(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    """(name, working directory holding that tutorial's clustrix.toml pointed at the loopback infra)."""
    name = request.param
    shown, needs, overrides = TARGETS[name]
    for component in needs:
        require(component)
    overrides = dict(overrides)
    if name == "k8s":
        emulator = request.getfixturevalue("k8s_emulator")
        overrides.update(kubeconfig=str(emulator.kubeconfig), k8s_context=CONTEXT)
    workdir = tmp_path / "project"
    workdir.mkdir()
    if shown is not None:
        (workdir / "clustrix.toml").write_text(pointed_at_infra(EXAMPLES / "config" / shown, overrides))
    return name, workdir


@pytest.fixture
def run_example() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python docs/examples/FILE`` (or any argv) in ``cwd`` as a reader would; fail with its stderr."""

    def run(
        argv: list[str] | str, cwd: Path, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        if isinstance(argv, str):
            argv = [sys.executable, str(EXAMPLES / argv)]
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=dict(os.environ))
        if check:
            assert done.returncode == 0, f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done

    return run
