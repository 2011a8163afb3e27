"""`clustrix plugins` shows a backend that breaks the contract as a load failure, naming
the plugin and what it lacks, instead of letting its jobs hang later."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

ONLY_SUBMITS = '''
from clustrix.plugin import hookimpl


class OnlySubmits:
    """A backend that submits but cannot say how its jobs are doing, nor cancel them."""

    @hookimpl
    def clustrix_submit(self, job, target):
        return "1"


plugin = OnlySubmits()
'''

NO_LIVE_STATUS = '''
from clustrix.plugin import BatchScheduler


class NoLiveStatus(BatchScheduler):
    """A batch scheduler without live(): it could never report a running job."""

    prefix = "#HALF"

    def directives(self, job, target, chunk):
        return []

    def submit_argv(self, script, job, target, chunk):
        return ["true"]

    def parse_submit(self, done):
        return "1"

    def finished(self, native_ids, target):
        return {}

    def cancel_argv(self, native_ids, target):
        return ["true"]


plugin = NoLiveStatus()
'''


@pytest.fixture
def incomplete_distribution(tmp_path: Path) -> Path:
    """A distribution with two incomplete backends: ``halfbackend`` and ``halfbatch``."""
    root = tmp_path / "site"
    info = root / "clustrix_half-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: clustrix-half\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[clustrix]\nhalfbackend = clustrix_half_submit:plugin\nhalfbatch = clustrix_half_batch:plugin\n"
    )
    (root / "clustrix_half_submit.py").write_text(textwrap.dedent(ONLY_SUBMITS))
    (root / "clustrix_half_batch.py").write_text(textwrap.dedent(NO_LIVE_STATUS))
    return root


def test_plugins_lists_a_backend_missing_a_required_hook_as_a_load_failure(run_cli, incomplete_distribution, tmp_path):
    done = run_cli("plugins", env={"PYTHONPATH": str(incomplete_distribution)}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    failures = [line for line in done.stdout.splitlines() if line.startswith("failed to load: ")]
    half = next(line for line in failures if line.startswith("failed to load: halfbackend "))
    assert "PluginContractError" in half and "'halfbackend'" in half
    assert "clustrix_status" in half and "clustrix_cancel" in half
    assert not any(line.split()[0] == "halfbackend" for line in done.stdout.splitlines() if line.strip())


def test_plugins_lists_a_batch_scheduler_missing_a_method_as_a_load_failure(run_cli, incomplete_distribution, tmp_path):
    done = run_cli("plugins", env={"PYTHONPATH": str(incomplete_distribution)}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("failed to load: halfbatch "))
    assert "NoLiveStatus" in line and "live" in line
