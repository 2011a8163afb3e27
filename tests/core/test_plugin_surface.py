"""Backend authors import from one module: ``clustrix.plugin``.

Our five plugins and the example third-party backend are scanned (every import, at
module level or inside a function): none reaches into another core module, so the core
can rearrange its modules without breaking a plugin.
"""

from __future__ import annotations

import ast
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
