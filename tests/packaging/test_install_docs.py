"""The install instructions in the README and the docs: the same commands, never an unpinned core."""

from __future__ import annotations

import re
from pathlib import Path

from test_install import readme_install_commands

ROOT = Path(__file__).parents[2]
PAGES = [
    ROOT / "README.md",
    ROOT / "clustrix_core" / "README.md",
    *sorted((ROOT / "plugins").glob("*/README.md")),
    *sorted((ROOT / "docs").rglob("*.rst")),
]
#: a requirement on the core distribution (not a plugin, not a path): clustrix, "clustrix[slurm]>=0.2", ...
CORE_REQUIREMENT = re.compile(r"""(?<![\w./-])["']?clustrix(?:\[[\w,]+\])?(?:[<>=!~][^\s"'`]*)?["']?(?![\w-])""")


def core_requirements(page: Path) -> list[str]:
    found = []
    for command in re.findall(r"pip install ([^`\n]*)", page.read_text()):
        found += CORE_REQUIREMENT.findall(command)
    return found


def test_every_documented_install_of_the_core_has_a_floor_that_excludes_the_unrelated_0_1():
    seen = {}
    for page in PAGES:
        for requirement in core_requirements(page):
            floor = re.search(r">=(\d+)\.(\d+)", requirement)
            seen[f"{page.relative_to(ROOT)}: {requirement}"] = bool(floor and (int(floor[1]), int(floor[2])) >= (0, 2))
    assert seen, "no `pip install clustrix...` found in the README or the docs"
    assert [where for where, ok in seen.items() if not ok] == []


def test_getting_started_shows_the_readmes_install_from_a_checkout():
    page = (ROOT / "docs" / "getting-started.rst").read_text()
    for command in ["python3 -m pip install nox && nox -s build", *readme_install_commands()]:
        assert command.split("  #")[0].strip() in page, command
