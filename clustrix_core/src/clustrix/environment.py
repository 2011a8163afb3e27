"""The remote environment: a Python on the execution host that can load and run the job.

Step 4 of a job's life. The interpreter (``python`` setting, else ``python3``; on this
machine only a configured ``python``) is probed once per host: its version must match
this one's major.minor (cloudpickle sends functions as bytecode) and its cloudpickle must
be compatible with this one's, that is of the same major.minor version: a pickle names
cloudpickle's private reconstruction functions, which are not kept stable across
versions (2.x pickles cannot be read by 3.x, nor the reverse: ``Can't get attribute
'_function_setstate'``), while patch releases only fix bugs. When it lacks a compatible
cloudpickle, or a remote job names ``requirements``, a venv is built on the host under
``REMOTE_WORK_DIR/envs/KEY`` with this client's cloudpickle, KEY being the hash of the
interpreter and the requirements, so it is built once and reused by every later job (and
by other clients: a lock file serialises concurrent builds). If that build fails, the job
is refused before submission, naming both cloudpickle versions and the fix.
The requirements are the job's ``requirements`` plus, with ``capture_requirements``
(default), the pip-installed distributions the function imports, at the local versions.
"""

from __future__ import annotations

import dis
import functools
import hashlib
import importlib.metadata
import json
import sys
import threading
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cloudpickle

from .config import Setting
from .errors import RemoteEnvironmentError
from .hookspecs import hookimpl

if TYPE_CHECKING:
    from .job import Job
    from .target import Target
    from .transport import Transport

PROBE = """\
import json, sys
try:
    import cloudpickle
    cp = cloudpickle.__version__
except Exception:
    cp = None
print(json.dumps({"version": list(sys.version_info[:3]), "executable": sys.executable, "cloudpickle": cp}))
"""

#: ``sh -c BUILD sh ENV_DIR PYTHON``, requirements on stdin: build the venv unless it is ready
BUILD = """\
set -e
dir=$1; py=$2
umask 077
mkdir -p -- "${dir%/*}"
exec 9>"$dir.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if [ ! -e "$dir/.clustrix-ready" ]; then
  rm -rf -- "$dir"
  if ! { "$py" -m venv "$dir" && cat > "$dir/clustrix-requirements.txt" &&
      "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        -r "$dir/clustrix-requirements.txt"; }; then
    rm -rf -- "$dir"
    exit 1
  fi
  : > "$dir/.clustrix-ready"
fi
"""

REQUIREMENTS = Setting(
    "requirements",
    (str, list),
    [],
    "Packages the job needs on the execution host: requirement lines, or the path of a local "
    "requirements/lock file. Installed once into a remote venv keyed by their hash.",
    "resources",
)


CAPTURE = Setting(
    "capture_requirements",
    bool,
    True,
    "On a remote host, also install the distributions the function imports, at this machine's "
    "versions (pip-installed ones; editable or local installs are not captured).",
    "resources",
)

#: never captured: Clustrix itself, what the environment step installs anyway, packaging tools
NOT_CAPTURED = ("clustrix", "cloudpickle", "pip", "setuptools", "wheel")


def imported_modules(func: Any) -> set[str]:
    """Top-level names of the modules a function imports or refers to (as globals or closure values)."""
    names: set[str] = set()
    code = getattr(func, "__code__", None)
    if code is None:
        return names
    globs = getattr(func, "__globals__", {})
    cells = [c.cell_contents for c in (getattr(func, "__closure__", None) or ()) if _filled(c)]
    for value in [*(globs.get(n) for n in _all_names(code)), *cells]:
        if isinstance(value, types.ModuleType):
            names.add(value.__name__.split(".")[0])
    names.update(_imports(code))
    return names


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises ValueError
    except ValueError:
        return False
    return True


def _all_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _all_names(const)
    return names


def _imports(code: types.CodeType) -> set[str]:
    found = {str(i.argval).split(".")[0] for i in dis.get_instructions(code) if i.opname == "IMPORT_NAME"}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _imports(const)
    return found


@functools.cache
def _providers() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


def captured_requirements(func: Any) -> list[str]:
    """``name==version`` of the installed distributions providing the function's imports."""
    providers = _providers()
    lines = set()
    for module in imported_modules(func):
        for name in providers.get(module, []):
            if name.lower().startswith(NOT_CAPTURED):
                continue
            dist = importlib.metadata.distribution(name)
            if dist.read_text("direct_url.json"):  # editable or from a local path/URL: not on an index
                continue
            lines.add(f"{dist.metadata['Name']}=={dist.version}")
    return sorted(lines)


@dataclass(frozen=True)
class Interpreter:
    command: str  # as configured ("python3")
    executable: str  # sys.executable there
    version: tuple[int, int, int]
    cloudpickle: str | None


_probes: dict[tuple[str, str], Interpreter] = {}
_pythons: dict[tuple[str, str, str], str] = {}
_lock = threading.Lock()


def probe(transport: Transport, command: str) -> Interpreter:
    """Ask the host's interpreter for its version and cloudpickle (cached per host)."""
    key = (transport.where, command)
    if key in _probes:
        return _probes[key]
    done = transport.run([command, "-c", PROBE], timeout=60)
    try:
        info = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RemoteEnvironmentError(
            f"no usable Python at `{command}` on {transport.where} (exit {done.returncode}: "
            f"{(done.stderr or done.stdout).strip()[-500:]}); install Python "
            f"{sys.version_info[0]}.{sys.version_info[1]} there or set python= to its path"
        ) from None
    found = Interpreter(command, info["executable"], tuple(info["version"]), info["cloudpickle"])
    _probes[key] = found
    return found


def requirements_of(settings: Mapping[str, Any]) -> list[str]:
    """The requirement lines a job names: a list, one line, or a local requirements/lock file."""
    value = settings.get("requirements") or []
    if isinstance(value, str):
        path = Path(value).expanduser()
        value = path.read_text().splitlines() if path.is_file() else [value]
    lines = [line.split("#", 1)[0].strip() for line in value]
    return [line for line in lines if line]


def check_version(found: Interpreter, where: str) -> None:
    local = sys.version_info[:2]
    if found.version[:2] != local:
        raise RemoteEnvironmentError(
            f"`{found.command}` on {where} is Python {'.'.join(map(str, found.version))}, this one is "
            f"{local[0]}.{local[1]}: cloudpickle sends functions as bytecode, which needs the same "
            f"major.minor version on both sides; set python= to a Python {local[0]}.{local[1]} on {where}"
        )


def minor_version(version: str) -> tuple[str, ...]:
    """'3.1.3' -> ('3', '1'): the part of a cloudpickle version that must match."""
    return tuple(version.split(".")[:2])


def cloudpickle_compatible(remote: str | None) -> bool:
    """Whether pickles made here load with cloudpickle ``remote``: same major.minor (see above)."""
    return remote is not None and minor_version(remote) == minor_version(cloudpickle.__version__)


def python_for(target: Target, settings: Mapping[str, Any] | None = None) -> str:
    """The interpreter jobs with these settings run with on ``target``'s host (venv built if needed).

    On this machine the ``python`` named is used as it is (a local backend runs Clustrix
    itself in it), so an incompatible cloudpickle there is refused, not replaced.
    """
    settings = target.settings if settings is None else settings
    transport = target.transport
    command = str(settings.get("python") or "python3")
    wanted = [] if target.is_local else requirements_of(settings)
    memo = (target.key, command, json.dumps(wanted))
    with _lock:
        if memo in _pythons:
            return _pythons[memo]
        found = probe(transport, command)
        check_version(found, transport.where)
        if not wanted and cloudpickle_compatible(found.cloudpickle):
            python = command
        elif target.is_local:
            raise RemoteEnvironmentError(
                f"python={command!r} cannot run Clustrix jobs: {_why(found, [])}. {_fix(found, [], local=True)}, "
                "or leave python unset to run jobs with this interpreter"
            )
        else:
            python = build_venv(
                transport, target.remote_work_dir, found, [f"cloudpickle=={cloudpickle.__version__}", *wanted]
            )
        _pythons[memo] = python
        return python


def env_key(found: Interpreter, requirements: Sequence[str]) -> str:
    text = json.dumps([found.executable, list(found.version), sorted(requirements)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_venv(transport: Transport, work_dir: str, found: Interpreter, requirements: Sequence[str]) -> str:
    """Build (once) the venv for these requirements on the host; return its python."""
    env_dir = f"{work_dir}/envs/{env_key(found, requirements)}"
    done = transport.run(
        ["sh", "-c", BUILD, "sh", env_dir, found.executable], input="\n".join(requirements) + "\n", timeout=900
    )
    if done.returncode != 0:
        raise RemoteEnvironmentError(
            f"`{found.command}` on {transport.where} cannot run Clustrix jobs as it is ({_why(found, requirements)}), "
            f"and building a venv with {', '.join(requirements)} in {env_dir} failed "
            f"(exit {done.returncode}):\n{(done.stderr or done.stdout).strip()[-1500:]}\n{_fix(found, requirements)}"
        )
    return f"{env_dir}/bin/python"


def _why(found: Interpreter, requirements: Sequence[str]) -> str:
    here = f"this client has cloudpickle {cloudpickle.__version__}"
    if found.cloudpickle is None:
        return f"it has no cloudpickle; {here}"
    if not cloudpickle_compatible(found.cloudpickle):
        return (
            f"it has cloudpickle {found.cloudpickle}, {here}: pickles need the same major.minor version on both sides"
        )
    return "requirements: " + ", ".join(requirements[1:])


def _fix(found: Interpreter, requirements: Sequence[str], local: bool = False) -> str:
    if cloudpickle_compatible(found.cloudpickle):
        return (
            "Give that host's Python the requirements (pip install, python3-venv and access to a package index) "
            "or set python= to an interpreter that has them"
        )
    fix = (
        f"Fix: `{found.executable} -m pip install cloudpickle=={cloudpickle.__version__}`, or set python= to an "
        f"interpreter with cloudpickle {'.'.join(minor_version(cloudpickle.__version__))}.x"
    )
    return fix if local else fix + ", or let the host build the venv (python3-venv and a package index it can reach)"


class EnvironmentStep:
    """The environment step's settings, and its default: ``Target.prepare_environment``."""

    @hookimpl
    def clustrix_settings(self) -> list[Setting]:
        return [REQUIREMENTS, CAPTURE]

    @hookimpl(trylast=True)
    def clustrix_prepare_environment(self, job: Job, target: Target) -> str:
        return target.prepare_environment(job.settings)


plugin = EnvironmentStep()
