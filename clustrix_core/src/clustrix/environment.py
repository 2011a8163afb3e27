"""The remote environment: a Python on the execution host that can load and run the job.

Step 4 of a job's life. The interpreter (``python`` setting, else ``python3``) is probed
once per host: its version must match this one's major.minor (cloudpickle sends functions
as bytecode) and it must import cloudpickle. When it lacks cloudpickle, or the job names
``requirements``, a venv is built on the host under ``REMOTE_WORK_DIR/envs/KEY``, KEY
being the hash of the interpreter and the requirements, so it is built once and reused
by every later job (and by other clients: a lock file serialises concurrent builds).
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cloudpickle

from .config import Setting
from .errors import RemoteEnvironmentError
from .hookspecs import hookimpl

if TYPE_CHECKING:
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


def _cloudpickle_compatible(remote: str | None) -> bool:
    return remote is not None and remote.split(".")[0] == cloudpickle.__version__.split(".")[0]


def python_for(target: Target, settings: Mapping[str, Any] | None = None) -> str:
    """The interpreter jobs with these settings run with on ``target``'s host (venv built if needed)."""
    settings = target.settings if settings is None else settings
    transport = target.transport
    command = str(settings.get("python") or "python3")
    wanted = requirements_of(settings)
    memo = (target.key, command, json.dumps(wanted))
    with _lock:
        if memo in _pythons:
            return _pythons[memo]
        found = probe(transport, command)
        check_version(found, transport.where)
        if not wanted and _cloudpickle_compatible(found.cloudpickle):
            python = command
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
        missing = "cloudpickle" if found.cloudpickle is None else "the requirements"
        raise RemoteEnvironmentError(
            f"`{found.command}` on {transport.where} cannot run Clustrix jobs as it is "
            f"({'no cloudpickle' if found.cloudpickle is None else 'requirements: ' + ', '.join(requirements[1:])}), "
            f"and building a venv with {', '.join(requirements)} in {env_dir} failed "
            f"(exit {done.returncode}):\n{(done.stderr or done.stdout).strip()[-1500:]}\n"
            f"Give that host's Python {missing} (pip install, python3-venv and access to a package index) "
            "or set python= to an interpreter that has it"
        )
    return f"{env_dir}/bin/python"


class EnvironmentSettings:
    """Registers the ``requirements`` setting (the step itself runs from ``Target.python``)."""

    @hookimpl
    def clustrix_settings(self) -> list[Setting]:
        return [REQUIREMENTS]


plugin = EnvironmentSettings()
