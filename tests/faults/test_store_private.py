"""The local home and job store are private whatever the umask: env values are secrets."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from clustrix import cluster


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_home_jobs_store_and_blobs_are_private_under_umask_022(clustrix_home: Path) -> None:
    assert _mode(clustrix_home) == 0o755  # as a user's existing home may be
    old = os.umask(0o022)
    try:

        @cluster(cluster_type="local", env={"API_TOKEN": "s3cret"}, keep_files=True)
        def token() -> str:
            return os.environ.get("API_TOKEN", "")

        future = token.submit()
        future.result(timeout=60)
    finally:
        os.umask(old)
    job_dir = future.job.local_dir
    dirs = [clustrix_home, clustrix_home / "jobs", job_dir, clustrix_home / "blobs"]
    assert {str(d): oct(_mode(d)) for d in dirs} == {str(d): oct(0o700) for d in dirs}
    # everything but the runner's status markers (pid, host, start time: nothing private)
    files = [p for p in job_dir.rglob("*") if p.is_file() and p.parent.name != "status"]
    files += [clustrix_home / "jobs.sqlite"]
    files += [p for p in clustrix_home.glob("jobs.sqlite-*")]
    files += list((clustrix_home / "blobs").iterdir())
    assert {"manifest.json", "runner.py", "worker.log", "0.out", "0.err", "0.pkl"} <= {f.name for f in files}
    assert {str(f): oct(_mode(f)) for f in files} == {str(f): oct(0o600) for f in files}


def test_jobs_json_masks_env_values_unless_show_env(clustrix_home: Path) -> None:
    import json

    from click.testing import CliRunner

    from clustrix.cli import main

    @cluster(cluster_type="local", env={"API_TOKEN": "s3cret", "REGION": "eu"})
    def nothing() -> None:
        return None

    nothing()
    runner = CliRunner()
    shown = runner.invoke(main, ["jobs", "--json"], prog_name="clustrix", catch_exceptions=False)
    assert shown.exit_code == 0 and "s3cret" not in shown.output
    assert json.loads(shown.output)[0]["settings"]["env"] == {"API_TOKEN": "****", "REGION": "****"}
    revealed = runner.invoke(main, ["jobs", "--json", "--show-env"], prog_name="clustrix", catch_exceptions=False)
    assert json.loads(revealed.output)[0]["settings"]["env"] == {"API_TOKEN": "s3cret", "REGION": "eu"}


def test_config_show_masks_env_values_unless_show_env(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from clustrix.cli import main

    monkeypatch.setenv("CLUSTRIX_ENV", '{"API_TOKEN": "s3cret"}')
    runner = CliRunner()
    shown = runner.invoke(main, ["config", "show"], prog_name="clustrix", catch_exceptions=False)
    assert shown.exit_code == 0 and "API_TOKEN" in shown.output and "s3cret" not in shown.output
    revealed = runner.invoke(main, ["config", "show", "--show-env"], prog_name="clustrix", catch_exceptions=False)
    assert "s3cret" in revealed.output
