"""`clustrix plugins` shows a backend that breaks the contract as a load failure, naming
the plugin and what it lacks, instead of letting its jobs hang later."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from clustrix.plugin import CheckFailed, hookimpl
from clustrix.plugins import manager

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

    def finished(self, native_ids, target, arrays=frozenset()):
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


class SiteCheck:
    """A plugin adding its own doctor check, through the hook."""

    @hookimpl
    def clustrix_doctor_checks(self, target):
        def licence_server() -> str:
            raise CheckFailed("licence server unreachable from " + target.transport.where, "start the licence server")

        return [("licence server", licence_server)]


def test_doctor_runs_the_checks_plugins_add_through_the_hook(cli) -> None:
    manager().register(SiteCheck(), name="site-check")
    try:
        result = cli("doctor", "--set", "cluster_type=local")
    finally:
        manager().unregister("site-check")
    assert "[FAIL] licence server: licence server unreachable from local" in result.output
    assert "fix: start the licence server" in result.output
    assert "[ok  ] work directory writable" in result.output
