"""The remote environment step: interpreter checks and the venv keyed by the requirements hash."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from clustrix import cluster, environment
from clustrix.errors import RemoteEnvironmentError
from clustrix.lifecycle import resolve
from clustrix.target import target_for


def remote_target(options: dict[str, Any]) -> Any:
    return target_for(resolve(options).values)


def test_python_without_cloudpickle_runs_jobs_from_a_reused_venv(ssh_options: dict[str, Any]) -> None:
    options = {**ssh_options, "python": "/usr/bin/python3"}  # Debian's python3: no cloudpickle
    target = remote_target(options)
    bare = environment.probe(target.transport, "/usr/bin/python3")
    if bare.cloudpickle is not None:
        pytest.fail("the test host's /usr/bin/python3 is expected to lack cloudpickle (see tests/infra/ssh.sh)")
    python = environment.python_for(target)
    assert python.startswith(f"{target.remote_work_dir}/envs/") and python.endswith("/bin/python")
    environment._pythons.clear()  # forget it here: the host's venv must be found, not rebuilt
    stamp = ["stat", "-c", "%Y.%i", python.replace("/bin/python", "/.clustrix-ready")]
    before = target.transport.run(stamp).check().stdout
    assert environment.python_for(target) == python
    assert target.transport.run(stamp).check().stdout == before

    @cluster(**options)
    def interpreter() -> str:
        import sys

        return sys.prefix

    assert interpreter() == python.removesuffix("/bin/python")


def test_missing_interpreter_names_it(ssh_options: dict[str, Any]) -> None:
    @cluster(**ssh_options, python="/opt/no-such/python3")
    def noop() -> None:
        return None

    with pytest.raises(RemoteEnvironmentError, match="no usable Python at `/opt/no-such/python3`"):
        noop()


def test_requirement_that_cannot_install_names_what_is_missing(ssh_options: dict[str, Any]) -> None:
    @cluster(**ssh_options, requirements=["/nonexistent/clustrix-test-package"])
    def noop() -> None:
        return None

    with pytest.raises(RemoteEnvironmentError, match="/nonexistent/clustrix-test-package"):
        noop()


def test_other_python_version_is_refused_with_what_to_do() -> None:
    other = environment.Interpreter("python3", "/usr/bin/python3", (3, sys.version_info[1] - 1, 0), "3.1.3")
    with pytest.raises(RemoteEnvironmentError, match=r"same major\.minor") as info:
        environment.check_version(other, "host")
    assert f"set python= to a Python 3.{sys.version_info[1]}" in str(info.value)


def test_requirements_come_from_lines_or_a_file(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text("numpy==1.26.4  # pinned\n\n# comment\nscipy>=1.11\n")
    assert environment.requirements_of({"requirements": str(lock)}) == ["numpy==1.26.4", "scipy>=1.11"]
    assert environment.requirements_of({"requirements": ["attrs"]}) == ["attrs"]
    found = environment.Interpreter("python3", "/usr/bin/python3", (3, 11, 2), None)
    assert environment.env_key(found, ["a", "b"]) == environment.env_key(found, ["b", "a"])
    assert environment.env_key(found, ["a"]) != environment.env_key(found, ["a", "b"])


def test_function_imports_are_captured_at_local_versions() -> None:
    import pluggy

    def uses_packages() -> str:
        import click  # imported inside the function
        from paramiko import SSHClient  # noqa: F401 - a from-import counts too

        return pluggy.__version__ + click.__name__  # a module global counts too

    captured = environment.captured_requirements(uses_packages)
    from importlib.metadata import version

    assert {f"pluggy=={version('pluggy')}", f"click=={version('click')}", f"paramiko=={version('paramiko')}"} <= set(
        captured
    )
    assert not [line for line in captured if line.lower().startswith(("clustrix", "cloudpickle"))]


def test_remote_job_gets_the_packages_its_function_imports(ssh_options: dict[str, Any]) -> None:
    from importlib.metadata import version

    @cluster(**ssh_options, python="/usr/bin/python3")  # Debian's python3 has no pluggy
    def plugin_manager_version() -> str:
        import pluggy

        return pluggy.__version__

    assert plugin_manager_version() == version("pluggy")

    @cluster(**ssh_options, python="/usr/bin/python3", capture_requirements=False)
    def without_capture() -> str:
        import pluggy

        return pluggy.__version__

    with pytest.raises(ModuleNotFoundError, match="pluggy"):
        without_capture()
