"""Sessions: tests (whole suite, real schedulers), lint, demo, bench, docs.

nox -s demo     a decorated function on the embedded local backend, no configuration
nox -s tests    as root: brings up sshd, Slurm, the Torque wrappers and SGE, then runs
                every test (CI=true: an integration test never skips)
nox -s lint     ruff check, ruff format --check, mypy on the core
nox -s bench    Clustrix side by side with its peers, printed as ratios
nox -s build    sdist + wheel of the core and every plugin into dist/, checked and smoke-tested
nox -s version  the six distributions' version and pins (nox -s version -- 0.3.0 sets them)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

PLUGINS = ["clustrix_slurm", "clustrix_pbs", "clustrix_sge", "clustrix_k8s", "clustrix_ssh"]


def install_all(session: nox.Session) -> None:
    """The core, every plugin that exists, and the example third-party backend."""
    paths = ["./clustrix_core"] + [f"./plugins/{p}" for p in PLUGINS if os.path.isdir(f"plugins/{p}")]
    session.install(*paths, "./tests/example_backend")


def bring_up_infrastructure(session: nox.Session, *components: str, env: dict[str, str] | None = None) -> bool:
    """Start sshd/Slurm/Torque wrappers/SGE on loopback (root only); False when not root."""
    if os.geteuid() != 0:
        session.warn(
            "not root: real schedulers are not started; integration tests will skip (see tests/infra/README.md)"
        )
        return False
    session.run("bash", "tests/infra/up.sh", *(components or ("all",)), external=True, env=env)
    return True


@nox.session
def demo(session: nox.Session) -> None:
    session.install("./clustrix_core")
    session.run("clustrix", "demo")


@nox.session
def tests(session: nox.Session) -> None:
    """Every test with Slurm accounting on, then the Slurm tests again with accounting off."""
    install_all(session)
    session.install(
        "pytest>=8", "kubernetes", "joblib", "tqdm", "scikit-learn", "nbclient", "nbformat", "ipykernel", "ipywidgets"
    )
    if not bring_up_infrastructure(session, env={"WITH_SLURMDBD": "1"}):
        session.run("python", "-m", "pytest", "tests", *session.posargs)
        return
    session.run("python", "-m", "pytest", "tests", *session.posargs, env={"CLUSTRIX_SLURM_ACCOUNTING": "on"})
    bring_up_infrastructure(session, "slurm", env={"WITH_SLURMDBD": "0"})
    try:
        session.run(
            "python",
            "-m",
            "pytest",
            "tests/slurm",
            "-m",
            "not accounting_independent",
            *session.posargs,
            env={"CLUSTRIX_SLURM_ACCOUNTING": "off"},
        )
    finally:
        bring_up_infrastructure(session, "slurm", env={"WITH_SLURMDBD": "1"})


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff", "mypy", "./clustrix_core", "pytest", "types-paramiko")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", "--config-file", "clustrix_core/pyproject.toml", "clustrix_core/src/clustrix")


@nox.session
def bench(session: nox.Session) -> None:
    install_all(session)
    session.install("joblib", "submitit")
    session.run("python", "benchmarks/local.py")
    for name in ("ssh", "slurm", "pipeline"):
        if os.path.exists(f"benchmarks/{name}.py"):
            session.run("python", f"benchmarks/{name}.py")


@nox.session
def docs(session: nox.Session) -> None:
    install_all(session)
    session.install("-r", "docs/requirements.txt")
    session.run("sphinx-build", "-W", "--keep-going", "-n", "-b", "html", "docs", "docs/_build/html")
    if "build-only" not in session.posargs:
        bring_up_infrastructure(session, "ssh", "ssh_sites", "slurm", "torque", "sge")
        session.run("python", "-m", "pytest", "tests/docs", *session.posargs)


@nox.session
def build(session: nox.Session) -> None:
    """An sdist and a wheel per distribution into dist/, their metadata checked, each wheel smoke-tested.

    Then: pip install --find-links dist "clustrix[slurm]>=0.2" (README, Install).
    """
    session.install("build", "twine")
    out = session.posargs[0] if session.posargs else "dist"
    session.run("python", "tools/versions.py", silent=True)  # fails when the six are out of step
    session.run("python", "tools/dists.py", "build", out)
    session.run("python", "tools/dists.py", "check", out)
    session.run("twine", "check", "--strict", *sorted(str(p) for p in Path(out).glob("clustrix[-_]*")))
    session.run("python", "tools/dists.py", "smoke", out)


@nox.session(python=False)
def version(session: nox.Session) -> None:
    """Show the six distributions' versions and pins; with an argument, set them all: nox -s version -- 0.3.0"""
    session.run(sys.executable, "tools/versions.py", *session.posargs)
