"""Installing Clustrix as a user would: the README's commands in a clean venv, then a call on Slurm.

The wheels are this checkout's (built once per session); everything else comes from the
package index, which also holds an unrelated ``clustrix`` 0.1.1 that must never be chosen.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import dists  # tools/, put on sys.path by conftest.py
import pytest
from clean_venv import ROOT, VERSION, clean_env, run

from infrastructure import require

DISTRIBUTIONS = ["clustrix", "clustrix-slurm", "clustrix-pbs", "clustrix-sge", "clustrix-k8s", "clustrix-ssh"]

CALL = """\
import os, sys
from clustrix import cluster

@cluster(cluster_type="slurm", memory="256MB", time="00:05:00")
def where(x):
    return x * 2, os.environ.get("SLURM_JOB_ID"), sys.prefix

doubled, slurm_job, prefix = where(21)
print(doubled, bool(slurm_job), prefix)
"""


def readme_install_commands() -> list[str]:
    """The README's install-from-a-checkout lines after the build (the wheelhouse fixture builds)."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    block = next(b for b in blocks if "--find-links dist" in b)
    lines = [line for line in block.splitlines() if line.strip()]
    assert "nox -s build" in lines[0], "README's install block should start by building the wheels"
    return lines[1:]


def resolve(resolve_only: list[str], requirement: str, find_links: Path, tmp_path: Path) -> dict[str, tuple[str, str]]:
    """What pip would install for ``requirement``: name -> (version, where from), our distributions only."""
    report = tmp_path / "report.json"
    run(
        [*resolve_only, "--report", str(report), "--find-links", str(find_links), requirement],
        tmp_path,
    )
    items = json.loads(report.read_text())["install"]
    return {
        item["metadata"]["name"]: (item["metadata"]["version"], item["download_info"]["url"])
        for item in items
        if item["metadata"]["name"].startswith("clustrix")
    }


def test_every_built_file_carries_the_license_readme_entry_point_and_pins_of_its_series(wheelhouse):
    assert dists.problems(wheelhouse) == []


def test_readme_install_from_a_checkout_gives_our_core_and_slurm_plugin_and_a_call_runs_on_slurm(wheelhouse, tmp_path):
    require("slurm")
    (tmp_path / "dist").symlink_to(wheelhouse)
    install, show = readme_install_commands()
    installed = run(["bash", "-c", f"{install} 2>&1"], tmp_path)  # pip warns on stderr
    assert "does not provide the extra" not in installed
    assert f"clustrix-{VERSION}" in installed and f"clustrix-slurm-{VERSION}" in installed, installed

    shown = run(["bash", "-c", show], tmp_path).splitlines()
    assert shown[0] == f"clustrix, version {VERSION}"
    rows = [line.split() for line in shown[1:]]
    assert ["slurm", "backend", "clustrix-slurm", VERSION] in rows
    assert ["local", "backend", "clustrix", VERSION] in rows
    assert len(rows) == 3  # the header, local and slurm: nothing from the checkout or the suite's venv

    (tmp_path / "call.py").write_text(CALL)
    venv_bin = tmp_path / ".venv" / "bin"
    activated = clean_env(PATH=f"{venv_bin}:{clean_env()['PATH']}")  # what `source .venv/bin/activate` does
    doubled, on_slurm, prefix = run([str(venv_bin / "python"), "call.py"], tmp_path, env=activated).split()
    assert (doubled, on_slurm) == ("42", "True")
    assert Path(prefix) == tmp_path / ".venv"  # the job ran in the venv the README built


def test_the_all_extra_takes_the_core_and_all_five_plugins_from_the_built_wheels(wheelhouse, resolve_only, tmp_path):
    chosen = resolve(resolve_only, "clustrix[all]>=0.2", wheelhouse, tmp_path)
    assert sorted(chosen) == sorted(DISTRIBUTIONS)
    for name, (version, url) in chosen.items():
        assert version == VERSION, name
        assert url.startswith(wheelhouse.as_uri()) and url.endswith(".whl"), (name, url)


def assert_never_the_old_core(resolve_only: list[str], requirement: str, find_links: Path, tmp_path: Path) -> None:
    """pip either refuses (the index's only cores are 0.1.x) or picks a core of our series; never 0.1.x."""
    report = tmp_path / "report.json"
    argv = [*resolve_only, "--report", str(report), "--find-links", str(find_links), requirement]
    done = subprocess.run(argv, cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=600)
    if done.returncode == 0:  # the index has a core of our series by now: fine, as long as it is ours
        install = json.loads(report.read_text())["install"]
        cores = [i["metadata"]["version"] for i in install if i["metadata"]["name"] == "clustrix"]
        assert cores and not cores[0].startswith("0.1"), f"{requirement} brought clustrix {cores}"
    else:
        assert re.search(r"No matching distribution found for clustrix(\[[a-z0-9,]+\])?[<>=]", done.stderr), done.stderr
        assert "0.1.1" in done.stderr, (
            f"the index did not offer the old clustrix, so this proves nothing:\n{done.stderr}"
        )


@pytest.mark.parametrize("plugin", DISTRIBUTIONS[1:])
def test_a_plugin_installed_on_its_own_never_brings_the_unrelated_clustrix_0_1(
    plugin, wheelhouse, resolve_only, tmp_path
):
    """With only the plugin's wheel at hand, pip must refuse the index's old core, not install it."""
    alone = tmp_path / "alone"
    alone.mkdir()
    wheel = next(wheelhouse.glob(f"{plugin.replace('-', '_')}-{VERSION}-*.whl"))
    (alone / wheel.name).symlink_to(wheel)
    assert_never_the_old_core(resolve_only, plugin, alone, tmp_path)


def test_the_documented_floor_makes_pip_refuse_the_old_core_when_ours_is_not_at_hand(resolve_only, tmp_path):
    """README: keep the >=0.2, so that a missing dist/ is an error rather than the old 0.1.1."""
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_never_the_old_core(resolve_only, "clustrix[slurm]>=0.2", empty, tmp_path)
