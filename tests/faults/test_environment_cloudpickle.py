"""Always fails before submission, or works: cloudpickle version skew between client and host.

Pickles name cloudpickle's private reconstruction functions, which change between minor
versions, so a host's cloudpickle is compatible when its major.minor equals the client's.
Otherwise, on every backend, Clustrix either provides a compatible one (a cached venv on
a remote host; in a Kubernetes pod the bootstrap pip-installs the client's version) or
refuses naming both versions and the fix: on this machine, where the ``python`` named is
used as it is, before submission; on a remote host when the venv cannot be built; in a
pod whose image may not be changed (``k8s_install_cloudpickle=False``), in the pod's error.

The skewed interpreter is a venv with a cloudpickle of another minor version than the
client's (3.0 against 3.1, the case a major-only comparison took for compatible).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from clustrix import cluster
from clustrix.errors import JobFailed, RemoteEnvironmentError
from infrastructure import LOOPBACK_SSH, PBS_BIN, SSH_DIR, require
from k8s_emulator import CONTEXT, Emulator
from k8s_emulator.fixtures import k8s_emulator  # noqa: F401  (the fixture itself)

CLIENT = cloudpickle.__version__
SKEWED = "3.1.0" if CLIENT.startswith("3.0.") else "3.0.0"
TIMEOUT = 300


def ssh(*command: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    argv = ["ssh", "-F", str(SSH_DIR / "ssh_config"), "clustrix-test", shlex.join(command)]  # one remote line
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def install_skewed(python: str, run: Any) -> None:
    done = run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"cloudpickle=={SKEWED}")
    assert done.returncode == 0, f"could not install cloudpickle=={SKEWED} (needs a package index):\n{done.stderr}"


@pytest.fixture(scope="module")
def local_skewed_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Python on this machine whose cloudpickle is of another minor version than the client's."""
    venv = tmp_path_factory.mktemp("skewed") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    install_skewed(str(venv / "bin" / "python"), lambda *argv: subprocess.run(argv, capture_output=True, text=True))
    # a name of its own: the k8s emulator runs a command named python/python3 with its own interpreter
    python = venv / "bin" / "python3-skewed"
    python.symlink_to("python")
    return str(python)


@pytest.fixture(scope="module")
def remote_skewed_dir() -> Iterator[str]:
    """A directory on the SSH test host holding ``venv/`` with the skewed cloudpickle."""
    require("ssh")
    home = ssh("sh", "-c", 'printf %s "$HOME"').stdout
    where = f"{home}/clustrix-faults-{uuid.uuid4().hex[:8]}"
    made = ssh("python3", "-m", "venv", f"{where}/venv")
    assert made.returncode == 0, made.stderr
    install_skewed(f"{where}/venv/bin/python", ssh)
    yield where
    ssh("rm", "-rf", "--", where)


def test_ssh_host_python_with_other_cloudpickle_minor_runs_jobs_with_the_clients(remote_skewed_dir: str) -> None:
    @cluster(
        cluster_type="ssh",
        **LOOPBACK_SSH,
        python=f"{remote_skewed_dir}/venv/bin/python",
        remote_work_dir=f"{remote_skewed_dir}/work",
        capture_requirements=False,
    )
    def remote_cloudpickle() -> str:
        import cloudpickle

        return str(cloudpickle.__version__)

    assert remote_cloudpickle.submit().result(timeout=TIMEOUT) == CLIENT


def test_ssh_host_refuses_before_submission_naming_both_versions(remote_skewed_dir: str) -> None:
    """When the venv cannot be built (here: envs/ is a file), the call is refused, not run."""
    work = f"{remote_skewed_dir}/broken"
    assert ssh("sh", "-c", 'mkdir -p "$1" && : > "$1/envs"', "sh", work).returncode == 0

    @cluster(
        cluster_type="ssh",
        **LOOPBACK_SSH,
        python=f"{remote_skewed_dir}/venv/bin/python",
        remote_work_dir=work,
        capture_requirements=False,
    )
    def remote_cloudpickle() -> str:
        import cloudpickle

        return str(cloudpickle.__version__)

    with pytest.raises(RemoteEnvironmentError) as refused:
        remote_cloudpickle.submit()
    message = str(refused.value)
    assert f"cloudpickle {SKEWED}" in message and f"cloudpickle {CLIENT}" in message
    assert f"-m pip install cloudpickle=={CLIENT}`" in message


@pytest.mark.parametrize("backend", ["local", "slurm", "pbs", "sge"])
def test_python_on_this_machine_with_other_cloudpickle_minor_is_refused_before_submission(
    backend: str, local_skewed_python: str, clustrix_home: Path
) -> None:
    options: dict[str, Any] = {"cluster_type": backend, "python": local_skewed_python}
    if backend == "pbs":  # the Torque-style commands, should anything reach them
        options.update({name: str(PBS_BIN / name) for name in ("qsub", "qstat", "qdel")})

    @cluster(**options)
    def local_cloudpickle() -> str:
        import cloudpickle

        return str(cloudpickle.__version__)

    with pytest.raises(RemoteEnvironmentError) as refused:
        local_cloudpickle.submit()
    message = str(refused.value)
    assert f"cloudpickle {SKEWED}, this client has cloudpickle {CLIENT}" in message
    assert f"`{local_skewed_python} -m pip install cloudpickle=={CLIENT}`" in message
    assert "leave python unset" in message


@pytest.fixture
def k8s_options(k8s_emulator: Emulator, local_skewed_python: str) -> dict[str, Any]:  # noqa: F811
    """@cluster keywords for the emulator, whose pods run the skewed interpreter."""
    return {
        "cluster_type": "k8s",
        "kubeconfig": str(k8s_emulator.kubeconfig),
        "k8s_context": CONTEXT,
        "k8s_image": "python:3.11-slim",
        "python": local_skewed_python,
        "poll_interval": 0.1,
        "max_poll_interval": 0.5,
    }


def test_k8s_pod_with_other_cloudpickle_minor_installs_the_clients(k8s_options: dict[str, Any]) -> None:
    @cluster(**k8s_options)
    def pod_cloudpickle() -> str:
        import cloudpickle

        return str(cloudpickle.__version__)

    assert pod_cloudpickle.submit().result(timeout=TIMEOUT) == CLIENT


def test_k8s_pod_that_may_not_install_names_both_versions(k8s_options: dict[str, Any]) -> None:
    @cluster(**k8s_options, k8s_install_cloudpickle=False)
    def pod_cloudpickle() -> str:
        import cloudpickle

        return str(cloudpickle.__version__)

    with pytest.raises(JobFailed) as failed:
        pod_cloudpickle.submit().result(timeout=TIMEOUT)
    message = str(failed.value)
    assert f"the image has cloudpickle {SKEWED}, the client cloudpickle {CLIENT}" in message
    assert f"cloudpickle=={CLIENT}" in message and "k8s_install_cloudpickle=True" in message
