"""One version for the six distributions, pins that follow it, and the command that sets both."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import versions  # tools/, put on sys.path by conftest.py
from click.testing import CliRunner

from clustrix.cli import main

ROOT = Path(__file__).parents[2]


def copy_of_pyprojects(tmp_path: Path) -> Path:
    for dist, path in versions.pyprojects().items():
        target = versions.pyprojects(tmp_path)[dist]
        target.parent.mkdir(parents=True)
        shutil.copy(path, target)
    return tmp_path


def test_the_six_distributions_share_one_version_and_pin_each_other_to_its_series():
    assert versions.problems() == []
    core = tomllib.loads(versions.pyprojects()["clustrix"].read_text())["project"]
    assert core["optional-dependencies"]["slurm"] == ["clustrix-slurm>=0.2,<0.3"]
    assert len(core["optional-dependencies"]["all"]) == 5


def test_every_plugin_requires_a_core_that_excludes_the_unrelated_0_1_series():
    for dist in versions.EXTRAS.values():
        project = tomllib.loads(versions.pyprojects()[dist].read_text())["project"]
        pins = [req for req in project["dependencies"] if req.startswith("clustrix")]
        assert pins == ["clustrix>=0.2,<0.3"], dist


def test_setting_a_version_rewrites_every_version_and_every_pin_and_nothing_else(tmp_path):
    root = copy_of_pyprojects(tmp_path)
    before = {dist: path.read_text() for dist, path in versions.pyprojects(root).items()}
    versions.set_version("0.3.0", root)
    assert versions.problems(root) == []
    for dist, path in versions.pyprojects(root).items():
        after = path.read_text()
        assert tomllib.loads(after)["project"]["version"] == "0.3.0"
        changed = {line for line in after.splitlines()} - set(before[dist].splitlines())
        assert all("0.3" in line for line in changed), changed
        if dist != "clustrix":
            assert '"clustrix>=0.3,<0.4"' in after
    extras = tomllib.loads(versions.pyprojects(root)["clustrix"].read_text())["project"]["optional-dependencies"]
    assert extras["k8s"] == ["clustrix-k8s>=0.3,<0.4"]
    assert extras["all"] == [f"{d}>=0.3,<0.4" for d in versions.EXTRAS.values()]


def test_a_distribution_left_behind_is_reported_as_out_of_step(tmp_path):
    root = copy_of_pyprojects(tmp_path)
    versions.set_version("0.3.0", root)
    sge = versions.pyprojects(root)["clustrix-sge"]
    sge.write_text(sge.read_text().replace('version = "0.3.0"', 'version = "0.2.9"'))
    assert versions.problems(root) == ["clustrix-sge is 0.2.9, the core is 0.3.0"]


def test_the_version_command_refuses_a_version_that_is_not_a_release(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "versions.py"), "0.3"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode != 0
    assert "is not a release version like 0.3.0" in done.stderr
    assert versions.problems() == []  # nothing was written


def test_clustrix_version_reports_the_installed_core_version():
    from importlib.metadata import version

    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"clustrix, version {version('clustrix')}"
