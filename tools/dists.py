"""Build, check and smoke-test the sdists and wheels of the six distributions.

    python tools/dists.py build dist    an sdist and a wheel (built from that sdist) for the core and
                                        each plugin, into dist/; needs the `build` package
    python tools/dists.py check dist    the twelve files are there, of one version, with the license,
                                        the long description, the entry point and the pins
    python tools/dists.py smoke dist    each wheel in its own clean venv: it imports, `clustrix --version`
                                        says its version and `clustrix plugins` lists its entry point

``nox -s build`` runs all three (and ``twine check --strict``). Standard library only, so
the test suite can run it too (tests/packaging).
"""

from __future__ import annotations

import argparse
import email.parser
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import venv
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from versions import CORE, EXTRAS, ROOT, pyprojects, read, series

#: distribution -> (import package, entry point in the `clustrix` group)
PACKAGES = {CORE: ("clustrix", "local")} | {dist: (dist.replace("-", "_"), extra) for extra, dist in EXTRAS.items()}


@dataclass
class Built:
    dist: str
    sdist: Path
    wheel: Path


def filename_stem(dist: str, version: str) -> str:
    return f"{dist.replace('-', '_')}-{version}"


def built(out: Path, version: str) -> list[Built]:
    """The sdist and wheel of every distribution in ``out``; SystemExit naming any that is missing."""
    found, missing = [], []
    for dist in PACKAGES:
        stem = filename_stem(dist, version)
        sdist, wheel = out / f"{stem}.tar.gz", out / f"{stem}-py3-none-any.whl"
        missing += [p.name for p in (sdist, wheel) if not p.is_file()]
        found.append(Built(dist, sdist, wheel))
    if missing:
        raise SystemExit(f"{out} lacks {', '.join(missing)}: run `nox -s build` (or tools/dists.py build {out})")
    return found


def version_of_checkout() -> str:
    return read()[0].version


def build(out: Path, isolation: bool = True) -> list[Built]:
    """Replace this checkout's distributions in ``out`` by freshly built ones; print their sizes.

    Without ``isolation`` the build backend comes from this interpreter (faster; the test suite
    uses that), instead of a fresh environment from each pyproject's ``build-system.requires``.
    """
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("clustrix[-_]*"):
        if old.name.split("-")[0].replace("_", "-") in PACKAGES:
            old.unlink()
    backend = [] if isolation else ["--no-isolation"]
    for dist, path in pyprojects().items():
        started = time.monotonic()
        argv = [sys.executable, "-m", "build", *backend, "--outdir", str(out), str(path.parent)]
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"building {dist} failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-4000:]}")
        print(f"built {dist} in {time.monotonic() - started:.1f} s")
    result = built(out, version_of_checkout())
    for b in result:
        print(
            f"{b.wheel.name:44} {b.wheel.stat().st_size / 1024:6.1f} KiB   sdist {b.sdist.stat().st_size / 1024:6.1f} KiB"
        )
    return result


def wheel_metadata(wheel: Path) -> tuple[email.message.Message, dict[str, str]]:
    """The wheel's METADATA headers, and every file of its .dist-info by name."""
    with zipfile.ZipFile(wheel) as zf:
        info = {
            n.split("/", 1)[1]: zf.read(n).decode() for n in zf.namelist() if n.split("/")[0].endswith(".dist-info")
        }
    return email.parser.Parser().parsestr(info["METADATA"]), info


def problems(out: Path) -> list[str]:
    """Everything wrong with the built files (empty when all twelve are complete and in step)."""
    version = version_of_checkout()
    spec = series(version)
    wrong = []
    for b in built(out, version):
        meta, info = wheel_metadata(b.wheel)
        name = f"{b.wheel.name}:"
        if (meta["Name"], meta["Version"]) != (b.dist, version):
            wrong.append(f"{name} names itself {meta['Name']} {meta['Version']}")
        if meta["License-Expression"] != "MIT" or "licenses/LICENSE" not in info:
            wrong.append(f"{name} lacks the MIT license expression or the LICENSE file")
        if meta["Description-Content-Type"] != "text/markdown" or len(meta.get_payload() or "") < 200:
            wrong.append(f"{name} has no Markdown long description (readme)")
        package, entry = PACKAGES[b.dist]
        if f"{entry} = {package}" not in info.get("entry_points.txt", ""):
            wrong.append(f"{name} does not register the {entry!r} entry point of the clustrix group")
        requires = pins(meta.get_all("Requires-Dist") or [])
        want: dict[tuple[str, str | None], set[str]] = {(CORE, None): set(spec.split(","))}
        if b.dist == CORE:  # each plugin through its own extra and through `all`
            want = {(dist, extra): set(spec.split(",")) for extra, dist in EXTRAS.items()}
            want |= {(dist, "all"): set(spec.split(",")) for dist in EXTRAS.values()}
        if {key: requires.get(key) for key in want} != want:
            wrong.append(f"{name} pins {requires}, expected {want}")
        with tarfile.open(b.sdist) as tf:
            names = {n.split("/", 1)[-1] for n in tf.getnames()}
        lacking = {"LICENSE", "README.md", "PKG-INFO", "pyproject.toml"} - names
        if lacking:
            wrong.append(f"{b.sdist.name}: lacks {', '.join(sorted(lacking))}")
    return wrong


def pins(requires: Sequence[str]) -> dict[tuple[str, str | None], set[str]]:
    """(our distribution, extra) -> its specifiers, from Requires-Dist lines such as
    ``clustrix-slurm<0.3,>=0.2; extra == "slurm"``."""
    found: dict[tuple[str, str | None], set[str]] = {}
    for line in requires:
        requirement, _, marker = line.partition(";")
        name = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
        if name is None or not (name[0] == CORE or name[0] in EXTRAS.values()):
            continue
        extra = re.search(r'extra == "([^"]+)"', marker)
        specifiers = requirement.strip()[len(name[0]) :].replace(" ", "").strip("()")
        found[(name[0], extra[1] if extra else None)] = set(specifiers.split(","))
    return found


def clean_env() -> dict[str, str]:
    """This environment without anything that would let a venv see the checkout or another venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def run(argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    done = subprocess.run(list(argv), cwd=cwd, env=env or clean_env(), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"`{' '.join(argv)}` failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-4000:]}")
    return done.stdout


def smoke(out: Path) -> None:
    """Install each wheel (with the core's wheel) in a clean venv and check what a user would see."""
    version = version_of_checkout()
    dists = {b.dist: b for b in built(out, version)}
    for dist, (package, entry) in PACKAGES.items():
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"smoke-{dist}-") as tmp:
            where = Path(tmp)
            venv.create(where / "venv", with_pip=True)
            bin_ = where / "venv" / "bin"
            wheels = {str(dists[CORE].wheel), str(dists[dist].wheel)}
            run([str(bin_ / "pip"), "install", "-q", *sorted(wheels)], where)
            run([str(bin_ / "python"), "-c", f"import {package}"], where)
            shown = run([str(bin_ / "clustrix"), "--version"], where)
            if version not in shown:
                raise SystemExit(f"{dist}: `clustrix --version` says {shown.strip()!r}, expected {version}")
            rows = [line.split() for line in run([str(bin_ / "clustrix"), "plugins"], where).splitlines()]
            if [entry, "backend", dist, version] not in rows:
                raise SystemExit(f"{dist}: `clustrix plugins` does not list {entry} from {dist} {version}: {rows}")
        print(
            f"smoke {dist}: import {package}, `clustrix plugins` lists {entry!r} ({time.monotonic() - started:.1f} s)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["build", "check", "smoke"])
    parser.add_argument("out", type=Path, nargs="?", default=ROOT / "dist")
    parser.add_argument("--no-isolation", action="store_true", help="build: use this interpreter's setuptools")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    if args.step == "build":
        build(out, isolation=not args.no_isolation)
    elif args.step == "smoke":
        smoke(out)
    else:
        wrong = problems(out)
        for line in wrong:
            print(f"dists: {line}", file=sys.stderr)
        if wrong:
            return 1
        print(f"dists: the twelve files in {out} are complete and pinned to {series(version_of_checkout())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
