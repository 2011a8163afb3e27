"""Backend authors import from one module: ``clustrix.plugin``.

Our five plugins and the example third-party backend are scanned (every import, at
module level or inside a function): none reaches into another core module, so the core
can rearrange its modules without breaking a plugin.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import clustrix.plugin

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_SOURCES = sorted(
    [
        *ROOT.glob("plugins/clustrix_*/src/clustrix_*/*.py"),
        *ROOT.glob("tests/example_backend/src/clustrix_example/*.py"),
    ]
)


def core_imports(path: Path) -> list[str]:
    """Every module of the ``clustrix`` package that ``path`` imports, with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        found += [f"{m} (line {node.lineno})" for m in modules if m.split(".")[0] == "clustrix"]
    return found


def test_every_plugin_source_is_scanned() -> None:
    packages = {p.parent.name for p in PLUGIN_SOURCES}
    assert {"clustrix_slurm", "clustrix_pbs", "clustrix_sge", "clustrix_k8s", "clustrix_ssh"} < packages
    assert "clustrix_example" in packages


@pytest.mark.parametrize("path", PLUGIN_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_plugin_imports_only_clustrix_plugin(path: Path) -> None:
    others = [i for i in core_imports(path) if not i.startswith("clustrix.plugin ")]
    assert not others, f"{path.relative_to(ROOT)} imports {others}: import these names from clustrix.plugin"


def test_plugin_surface_exports_what_it_lists() -> None:
    missing = [name for name in clustrix.plugin.__all__ if not hasattr(clustrix.plugin, name)]
    assert not missing
    for name in ("hookimpl", "Job", "Target", "JobStatus", "State", "Setting", "BatchScheduler", "Transport"):
        assert name in clustrix.plugin.__all__


CORE_SOURCES = sorted((ROOT / "clustrix_core/src/clustrix").rglob("*.py"))


@pytest.mark.parametrize("path", [*CORE_SOURCES, *PLUGIN_SOURCES], ids=lambda p: str(p.relative_to(ROOT)))
def test_remote_job_paths_come_from_the_job_layout_helpers(path: Path) -> None:
    """Only job.py spells a path under a job's remote dir; everyone else asks the Job
    (``remote_result``, ``remote_log``, ``remote_status``, ``remote_file``, ...)."""
    if path.name == "job.py" and path.parent.name == "clustrix":
        return
    text = path.read_text()
    for spelled in ("remote_dir}/", 'remote_dir, "'):
        assert spelled not in text, (
            f"{path.relative_to(ROOT)} spells a job path by hand ({spelled!r}): use a Job method"
        )


def test_layout_helpers_name_the_documented_paths() -> None:
    from clustrix.plugin import Job

    job = Job("c1", "f", "local", {}, Path("/l/jobs/c1"), "/w/jobs/c1", n_calls=3, tasks_per_element=1)
    assert job.remote_work_dir == "/w" and job.remote_blobs_dir == "/w/blobs"
    assert job.remote_result(2) == "/w/jobs/c1/results/2.pkl"
    assert job.remote_log(2) == "/w/jobs/c1/logs/2.err" and job.remote_log(0, "out") == "/w/jobs/c1/logs/0.out"
    assert job.remote_status("0.started") == "/w/jobs/c1/status/0.started"
    assert job.remote_file("runner.py") == "/w/jobs/c1/runner.py"
    assert job.remote_subdirs() == ["/w/jobs/c1/results", "/w/jobs/c1/logs", "/w/jobs/c1/status"]


@pytest.mark.parametrize("package", ["clustrix_ssh", "clustrix_k8s", "clustrix_slurm", "clustrix_pbs", "clustrix_sge"])
def test_plugin_declares_what_it_imports_and_a_floor_on_clustrix(package: str) -> None:
    """Each plugin's dependencies: ``clustrix`` with a version floor, and a third-party
    package only if the plugin imports it (paramiko is the core's, for the SSH transport)."""
    import tomllib

    folder = ROOT / "plugins" / package
    declared = tomllib.loads((folder / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~ ;\[]", d, maxsplit=1)[0].lower() for d in declared}
    clustrix_pin = next(d for d in declared if re.split(r"[<>=!~ ;\[]", d, maxsplit=1)[0] == "clustrix")
    assert ">=" in clustrix_pin, f"{package}: {clustrix_pin!r} has no version floor"
    imported = set()
    for path in (folder / "src" / package).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    assert names - {"clustrix"} <= imported, (
        f"{package} declares {names - imported - {'clustrix'}} but never imports it"
    )
