"""Fixtures for the `clustrix` command: in-process (click's runner) and as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from clustrix import plugins
from clustrix.cli import main

CONSOLE_SCRIPT = Path(sys.executable).parent / "clustrix"

FAKE_PLUGIN = '''
"""A batch-scheduler backend that exists only to be rendered and diagnosed."""
from clustrix.batch import BatchScheduler


class FakeBatch(BatchScheduler):
    prefix = "#FAKE"
    task_id_var = "FAKE_TASK_ID"
    commands = {"fake_submit": "fakesub-not-installed"}

    def directives(self, job, target, chunk):
        return [f"--name={job.function}", f"--cores={job.settings['cores']}"]

    def submit_argv(self, script, job, target, chunk):
        return [self.command(target, "fake_submit"), script]

    def parse_submit(self, done):
        return done.stdout.strip()

    def live(self, native_ids, target):
        return {}

    def finished(self, native_ids, target, arrays=frozenset()):
        return {}

    def cancel_argv(self, native_ids, target):
        return ["true"]


plugin = FakeBatch()
'''


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Run the command in this process through click's runner."""
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args), prog_name="clustrix", catch_exceptions=False)

    return invoke


@pytest.fixture
def run_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m clustrix ARGS`` (or the console script with ``script=True``) as a subprocess."""

    def run(
        *args: str,
        script: bool = False,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(CONSOLE_SCRIPT)] if script else [sys.executable, "-m", "clustrix"]
        return subprocess.run(
            [*argv, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            env={**os.environ, **(env or {})},
        )

    return run


@pytest.fixture
def fake_distribution(tmp_path: Path) -> Path:
    """A directory with an installed-looking distribution 'clustrix-fakebatch' 1.2.3.

    Its entry points: ``fakebatch`` (a small batch scheduler) and ``broken`` (a module
    that does not exist, so the plugin fails to load). Put it on PYTHONPATH / sys.path.
    """
    root = tmp_path / "site"
    info = root / "clustrix_fakebatch-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: clustrix-fakebatch\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(
        "[clustrix]\nfakebatch = clustrix_fakebatch:plugin\nbroken = clustrix_no_such_module:plugin\n"
    )
    (root / "clustrix_fakebatch.py").write_text(textwrap.dedent(FAKE_PLUGIN))
    return root


@pytest.fixture
def fake_plugins_loaded(fake_distribution: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fake distribution on sys.path, with a fresh plugin manager that loaded it."""
    monkeypatch.syspath_prepend(str(fake_distribution))
    monkeypatch.setattr(plugins, "_manager", None)
    return fake_distribution


@pytest.fixture
def write_user_config(clustrix_home: Path) -> Callable[[str], Path]:
    """Write the user config file (under the test's XDG_CONFIG_HOME)."""

    def write(text: str) -> Path:
        path = clustrix_home / "xdg-config" / "clustrix" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    return write
