"""One version for the six distributions: show it, check it, set it.

    python tools/versions.py            show each distribution's version and pins; exit 1 if out of step
    python tools/versions.py 0.3.0      set every distribution to 0.3.0 and every pin to the 0.3 series

Each ``pyproject.toml``'s ``[project] version`` is the one source of its distribution's
version (``clustrix --version`` and ``clustrix plugins`` read the installed metadata).
The pins between them follow it: the core's extras require each plugin of the same
release series (``clustrix-slurm>=0.2,<0.3``) and every plugin requires the core of that
series (``clustrix>=0.2,<0.3``), so no resolver can pair them with another series, nor
with the unrelated ``clustrix`` 0.1.1 on the package index. ``nox -s version -- 0.3.0``
runs this; reinstall (``pip install -e``) for an installed copy to report the new version.
Standard library only.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = "clustrix"
#: extra name -> plugin distribution, in the order the core's extras list them
EXTRAS = {
    "slurm": "clustrix-slurm",
    "pbs": "clustrix-pbs",
    "sge": "clustrix-sge",
    "k8s": "clustrix-k8s",
    "ssh": "clustrix-ssh",
}
VERSION = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)((?:a|b|rc)(0|[1-9]\d*))?")
VERSION_LINE = re.compile(r'^version = "[^"]*"$', re.M)
OPTIONAL_TABLE = re.compile(r"^\[project\.optional-dependencies\]\n(?:[^\[\n].*\n)*", re.M)
DEPENDENCIES_LINE = re.compile(r"^dependencies = \[.*\]$", re.M)
CORE_REQUIREMENT = re.compile(r'"clustrix(?:[<>=!~][^"]*)?"')


def pyprojects(root: Path = ROOT) -> dict[str, Path]:
    """Distribution name -> its pyproject.toml: the core, then the plugins in EXTRAS order."""
    return {CORE: root / "clustrix_core" / "pyproject.toml"} | {
        dist: root / "plugins" / dist.replace("-", "_") / "pyproject.toml" for dist in EXTRAS.values()
    }


def series(version: str) -> str:
    """The specifier of the release series ``version`` belongs to (0.x: one minor; then one major)."""
    match = VERSION.fullmatch(version)
    if match is None:
        raise SystemExit(f"{version!r} is not a release version like 0.3.0 (or 0.3.0rc1)")
    major, minor = int(match[1]), int(match[2])
    floor = f"{major}.{minor}" + (f".{match[3]}{match[4]}" if match[4] else "")  # a pre-release admits its own
    return f">={floor},<{major}.{minor + 1}" if major == 0 else f">={floor},<{major + 1}"


def extras_table(version: str) -> str:
    spec = series(version)
    lines = [f'{extra} = ["{dist}{spec}"]' for extra, dist in EXTRAS.items()]
    every = ", ".join(f'"{dist}{spec}"' for dist in EXTRAS.values())
    return "[project.optional-dependencies]\n" + "\n".join(lines) + f"\nall = [{every}]\n"


def set_version(version: str, root: Path = ROOT) -> None:
    """Rewrite every version line and every pin; nothing else in the files changes."""
    spec = series(version)
    for dist, path in pyprojects(root).items():
        text = path.read_text()
        text = _replace_once(VERSION_LINE, f'version = "{version}"', text, path)
        if dist == CORE:
            text = _replace_once(OPTIONAL_TABLE, extras_table(version), text, path)
        else:
            line = DEPENDENCIES_LINE.search(text)
            if line is None or not CORE_REQUIREMENT.search(line[0]):
                raise SystemExit(f"{path}: no one-line `dependencies = [...]` naming clustrix to pin")
            pinned = CORE_REQUIREMENT.sub(f'"{CORE}{spec}"', line[0])
            text = text[: line.start()] + pinned + text[line.end() :]
        path.write_text(text)


def _replace_once(pattern: re.Pattern[str], new: str, text: str, path: Path) -> str:
    text, count = pattern.subn(lambda _: new, text)
    if count != 1:
        raise SystemExit(f"{path}: expected one match of {pattern.pattern!r}, found {count}")
    return text


@dataclass
class Distribution:
    name: str
    version: str
    pins: list[str]  # the requirements on our own distributions


def read(root: Path = ROOT) -> list[Distribution]:
    found = []
    for dist, path in pyprojects(root).items():
        project = tomllib.loads(path.read_text())["project"]
        if dist == CORE:
            pins = [
                f"[{extra}] {req}"
                for extra, reqs in project.get("optional-dependencies", {}).items()
                for req in reqs
                if req.startswith(f"{CORE}-")  # the extras for joblib, progress, notebook pin no dist of ours
            ]
        else:
            pins = [req for req in project.get("dependencies", []) if re.match(r"clustrix\b(?!-)", req)]
        found.append(Distribution(project["name"], project["version"], pins))
    return found


def problems(root: Path = ROOT) -> list[str]:
    """Every way the six distributions are out of step (empty when they are in step)."""
    dists = read(root)
    version = dists[0].version
    spec = series(version)
    wrong = [f"{d.name} is {d.version}, the core is {version}" for d in dists if d.version != version]
    want_core = [f"[{extra}] {dist}{spec}" for extra, dist in EXTRAS.items()]
    want_core += [f"[all] {dist}{spec}" for dist in EXTRAS.values()]
    if dists[0].pins != want_core:
        wrong.append(f"clustrix's extras are {dists[0].pins}, expected {want_core}")
    for d in dists[1:]:
        if d.pins != [f"{CORE}{spec}"]:
            wrong.append(f"{d.name} requires {d.pins}, expected ['{CORE}{spec}']")
    return wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("version", nargs="?", help="set every distribution to this version (e.g. 0.3.0)")
    args = parser.parse_args(argv)
    if args.version:
        set_version(args.version)
    for d in read():
        print(f"{d.name:16} {d.version:10} {'; '.join(d.pins)}")
    wrong = problems()
    for line in wrong:
        print(f"out of step: {line}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
