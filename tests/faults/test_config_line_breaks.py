"""Never trusted: a value that could start a new line of a job script is refused where it is given.

A newline, carriage return or NUL in a directive value (``extra_directives``, ``partition``,
``job_name``, ...) would end the ``#SBATCH`` line and make the rest a shell command. Such
a value is a ConfigError at decoration (or ``configure()``, a config file, an environment
variable, ``--set``), before anything is packaged. ``setup`` lines are shell by design and
may hold newlines, but not a carriage return or NUL; ``env`` values are quoted, so only
NUL (which no environment can carry) is refused there, and ``env`` names are checked.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from clustrix import ConfigError, cluster, configure
from clustrix.lifecycle import render

INJECTED = "--x\ntouch /tmp/pwned"


def simulate(x: int) -> int:
    return x


def test_newline_in_extra_directives_raises_at_decoration() -> None:
    with pytest.raises(ConfigError, match=r"extra_directives: .* holds a newline"):
        cluster(cluster_type="slurm", extra_directives=INJECTED)


def test_render_of_a_job_with_a_newline_directive_raises_before_packaging(tmp_path: Path) -> None:
    home = tmp_path / "render-home"
    home.mkdir()
    with pytest.raises(ConfigError, match="holds a newline"):
        render(simulate, [((1,), {})], {"cluster_type": "slurm", "extra_directives": INJECTED}, home)
    assert list(home.iterdir()) == [], "nothing may be packaged for a refused configuration"


@pytest.mark.parametrize(
    ("key", "value", "what"),
    [
        ("extra_directives", ["--exclusive", "--x\rtouch /tmp/pwned"], "a carriage return"),
        ("extra_directives", ["--x\x00"], "a NUL character"),
        ("partition", "debug\ntouch /tmp/pwned", "a newline"),
        ("account", "acct\r", "a carriage return"),
        ("qos", "normal\x00", "a NUL character"),
        ("job_name", "name\n#SBATCH --x", "a newline"),
        ("queue", "all.q\n", "a newline"),
        ("python", "python3\nrm -rf ~", "a newline"),
        ("remote_work_dir", "/scratch/x\ny", "a newline"),
        ("setup", ["module load gcc\r"], "a carriage return"),
        ("setup", "source env.sh\x00", "a NUL character"),
        ("env", {"TOKEN": "abc\x00def"}, "a NUL character"),
    ],
)
def test_line_breaking_character_refused_at_decoration(key: str, value: Any, what: str) -> None:
    with pytest.raises(ConfigError, match=rf"{key}: .* holds {what}"):
        cluster(cluster_type="slurm", **{key: value})


@pytest.mark.parametrize("name", ["A B", "1X", "X\nY", "X=Y", "", "PATH;id"])
def test_invalid_env_name_refused_at_decoration(name: str) -> None:
    with pytest.raises(ConfigError, match="not a valid environment variable name"):
        cluster(cluster_type="slurm", env={name: "1"})


def test_newline_refused_in_configure_and_in_map_options() -> None:
    with pytest.raises(ConfigError, match="holds a newline"):
        configure(partition="debug\nid")

    @cluster(cluster_type="slurm")
    def f(x: int) -> int:
        return x

    with pytest.raises(ConfigError, match="holds a newline"):
        f.map([1, 2], extra_directives=[INJECTED])


def test_newline_refused_in_project_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clustrix.toml").write_text('cluster_type = "slurm"\nextra_directives = ["--x\\ntouch /tmp/pwned"]\n')
    with pytest.raises(ConfigError, match=r"clustrix.toml: extra_directives: .* holds a newline"):
        render(simulate, [((1,), {})], {}, tmp_path / "home")


def test_newline_refused_in_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLUSTRIX_EXTRA_DIRECTIVES", INJECTED)
    with pytest.raises(ConfigError, match=r"env CLUSTRIX_EXTRA_DIRECTIVES: extra_directives: .* holds a newline"):
        render(simulate, [((1,), {})], {"cluster_type": "slurm"}, tmp_path)


def test_clustrix_render_cli_exits_2_on_a_newline_directive(tmp_path: Path, run_cli: Any) -> None:
    source = tmp_path / "jobs.py"
    source.write_text("def simulate(x=1):\n    return x\n")
    done = run_cli(
        "render",
        f"{source}:simulate",
        "--set",
        "cluster_type=slurm",
        "--set",
        f"extra_directives={INJECTED}",
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "holds a newline" in done.stderr
    assert "touch /tmp/pwned" not in done.stdout


def test_setup_lines_may_span_lines_and_env_values_are_quoted(tmp_path: Path) -> None:
    """The allowed cases: multi-line setup is shell by design; env values end up quoted."""
    overrides = {
        "cluster_type": "slurm",
        "setup": "module load gcc\nmodule load openmpi",
        "env": {"MESSAGE": "two\nlines; touch /tmp/pwned"},
    }
    _, script = render(simulate, [((1,), {})], overrides, tmp_path)
    assert script is not None
    assert "module load gcc\nmodule load openmpi\n" in script
    assert "export MESSAGE='two\nlines; touch /tmp/pwned'\n" in script


@pytest.fixture
def run_cli() -> Any:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "clustrix", *args], capture_output=True, text=True, timeout=120)

    return run
