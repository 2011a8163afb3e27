"""`clustrix config|plugins|render|doctor|demo` and the entry points, in-process and as subprocesses."""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path

import pytest

from infrastructure import SSH_DIR, SSH_PORT, SSH_USER, require

FUNCTIONS = textwrap.dedent(
    """
    from clustrix import cluster

    def plain(x):
        return x + 1

    @cluster(cores=6, job_name="decorated-job")
    def decorated(x):
        return x
    """
)


@pytest.fixture
def functions_file(tmp_path: Path) -> Path:
    path = tmp_path / "work" / "analysis.py"
    path.parent.mkdir()
    path.write_text(FUNCTIONS)
    return path


# --- entry points --------------------------------------------------------------------


def test_console_script_and_python_m_both_show_the_manual(run_cli) -> None:
    for script in (True, False):
        done = run_cli("--help", script=script)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("Usage: clustrix")
        assert "Exit codes:" in done.stdout


def test_every_command_help_has_an_example(cli) -> None:
    commands = [
        "jobs",
        "status",
        "result",
        "logs",
        "cancel",
        "clean",
        "plugins",
        "render",
        "doctor",
        "demo",
        "config",
        "config show",
        "config path",
        "config validate",
    ]
    for command in commands:
        result = cli(*command.split(), "--help")
        assert result.exit_code == 0
        assert re.search(r"Examples?:\n\s+clustrix ", result.output), command


def test_unknown_option_is_a_usage_error_with_exit_2(cli, run_cli) -> None:
    assert cli("jobs", "--colour").exit_code == 2
    assert run_cli("status").returncode == 2  # JOB is required


# --- config --------------------------------------------------------------------------


def test_config_show_names_the_source_of_each_value(cli, write_user_config, monkeypatch) -> None:
    path = write_user_config(
        """
        cores = 4
        [profiles.big]
        memory = "64GB"
        """
    )
    monkeypatch.setenv("CLUSTRIX_PARTITION", "short")
    result = cli("config", "show", "--profile", "big", "--json")
    assert result.exit_code == 0
    shown = json.loads(result.output)
    assert shown["cores"] == {"value": 4, "source": str(path)}
    assert shown["partition"] == {"value": "short", "source": "env"}
    assert shown["memory"] == {"value": "64GB", "source": "profile big"}
    assert shown["cluster_type"]["source"] == "default"


def test_config_show_in_a_subprocess_prints_a_table(run_cli, write_user_config, tmp_path: Path) -> None:
    write_user_config("queue = 'long'\n")
    done = run_cli("config", "show", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^queue\s+'long'\s+\S*config.toml$", done.stdout, re.M)


def test_config_path_lists_files_and_job_store(cli, run_cli, clustrix_home: Path, tmp_path: Path) -> None:
    result = cli("config", "path", "--json")
    paths = json.loads(result.output)
    assert paths["job_store"] == str(clustrix_home / "jobs.sqlite")
    assert paths["user_config"] == str(clustrix_home / "xdg-config" / "clustrix" / "config.toml")
    done = run_cli("config", "path", cwd=tmp_path)
    assert done.returncode == 0
    assert f"project config: {tmp_path / 'clustrix.toml'}  (not present)" in done.stdout


def test_config_validate_accepts_a_good_file(cli, write_user_config) -> None:
    path = write_user_config("cores = 2\n[profiles.gpu]\ngpus = 1\n")
    result = cli("config", "validate")
    assert result.exit_code == 0
    assert f"ok: {path} (1 keys; profiles: gpu)" in result.output


def test_malformed_config_names_file_and_key_with_exit_2(cli, run_cli, write_user_config, tmp_path: Path) -> None:
    path = write_user_config("[profiles.hpc]\ncores = 'many'\n")
    result = cli("config", "validate")
    assert result.exit_code == 2
    assert str(path) in result.output and "cores" in result.output and "[profiles.hpc]" in result.output
    write_user_config("memroy = '4GB'\n")
    done = run_cli("config", "validate", cwd=tmp_path)
    assert done.returncode == 2
    assert str(path) in done.stderr and "'memroy'" in done.stderr and "Did you mean 'memory'" in done.stderr
    write_user_config("cores = \n")
    done = run_cli("jobs", cwd=tmp_path)  # every command that reads the config says so
    assert done.returncode == 2
    assert f"{path}: not valid TOML" in done.stderr


def test_profile_selecting_a_missing_backend_says_what_to_install(run_cli, write_user_config, tmp_path) -> None:
    write_user_config("[profiles.hpc]\ncluster_type = 'lsfx'\n")
    done = run_cli("config", "validate", cwd=tmp_path)
    assert done.returncode == 2
    assert "[profiles.hpc]" in done.stderr and "pip install clustrix-lsfx" in done.stderr


# --- plugins -------------------------------------------------------------------------


def test_plugins_lists_backends_with_distribution_and_version(cli) -> None:
    result = cli("plugins")
    assert result.exit_code == 0
    assert re.search(r"^local\s+backend\s+clustrix\s+\d", result.output, re.M)


def test_plugins_reports_installed_and_failed_plugins(cli, fake_plugins_loaded) -> None:
    shown = json.loads(cli("plugins", "--json").output)
    fake = next(p for p in shown["plugins"] if p["name"] == "fakebatch")
    assert (fake["distribution"], fake["version"], fake["backend"]) == ("clustrix-fakebatch", "1.2.3", True)
    (broken,) = shown["failed"]
    assert broken["name"] == "broken" and "clustrix_no_such_module" in broken["error"]


def test_plugins_in_a_subprocess_says_why_a_plugin_failed(run_cli, fake_distribution, tmp_path) -> None:
    done = run_cli("plugins", env={"PYTHONPATH": str(fake_distribution)}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^fakebatch\s+backend\s+clustrix-fakebatch\s+1\.2\.3$", done.stdout, re.M)
    assert "failed to load: broken (from clustrix-fakebatch 1.2.3): ModuleNotFoundError" in done.stdout


# --- render --------------------------------------------------------------------------


def test_render_prints_the_job_script_with_decorator_settings(cli, fake_plugins_loaded, functions_file) -> None:
    result = cli("render", f"{functions_file}:decorated", "--set", "cluster_type=fakebatch", "--calls", "3")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("#!/bin/bash\n#FAKE --name=decorated\n#FAKE --cores=6\n")
    assert "FAKE_TASK_ID" in result.output  # three calls: an array job


def test_render_in_a_subprocess_with_a_module_ref(run_cli, fake_distribution, functions_file) -> None:
    env = {"PYTHONPATH": str(fake_distribution), "CLUSTRIX_CLUSTER_TYPE": "fakebatch"}
    done = run_cli("render", "analysis:plain", "--set", "cores=3", env=env, cwd=functions_file.parent)
    assert done.returncode == 0, done.stderr
    assert "#FAKE --name=plain\n#FAKE --cores=3\n" in done.stdout
    assert "runner.py" in done.stdout


def test_render_for_the_local_backend_says_there_is_no_script(cli, functions_file) -> None:
    result = cli("render", f"{functions_file}:plain")
    assert result.exit_code == 0
    assert "backend 'local' submits no job script" in result.output


def test_render_errors(cli, run_cli, functions_file, tmp_path) -> None:
    missing = run_cli("render", f"{functions_file}:plain", "--set", "cluster_type=lsfx", cwd=tmp_path)
    assert missing.returncode == 2 and "pip install clustrix-lsfx" in missing.stderr
    assert cli("render", "no_such_module_here:f").exit_code == 2
    assert "has no attribute 'nope'" in cli("render", f"{functions_file}:nope").output
    bad_key = cli("render", f"{functions_file}:plain", "--set", "coers=2")
    assert bad_key.exit_code == 2 and "Did you mean 'cores'" in bad_key.output


# --- doctor --------------------------------------------------------------------------


def test_doctor_passes_every_step_for_the_local_backend(cli, run_cli, tmp_path) -> None:
    result = cli("doctor")
    assert result.exit_code == 0
    assert result.output.count("[ok  ]") == 7
    done = run_cli("doctor", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [s["status"] for s in json.loads(done.stdout)] == ["ok"] * 7


def test_doctor_backend_not_installed_says_which_package(cli, run_cli, tmp_path) -> None:
    result = cli("doctor", "--set", "cluster_type=lsfx")
    assert result.exit_code == 1
    assert "[FAIL] backend installed" in result.output and "fix: pip install clustrix-lsfx" in result.output
    assert "[skip] host reachable" in result.output
    done = run_cli("doctor", env={"CLUSTRIX_CLUSTER_TYPE": "lsfx"}, cwd=tmp_path)
    assert done.returncode == 1 and "pip install clustrix-lsfx" in done.stdout


def test_doctor_names_missing_scheduler_commands_and_the_setting(cli, fake_plugins_loaded) -> None:
    result = cli("doctor", "--set", "cluster_type=fakebatch")
    assert result.exit_code == 1
    assert "[FAIL] scheduler commands present: not found on this machine: fakesub-not-installed" in result.output
    assert "fake_submit=/full/path/to/fakesub-not-installed" in result.output


def test_doctor_malformed_config_fails_the_first_step(run_cli, write_user_config, tmp_path) -> None:
    path = write_user_config("port = 'twenty-two'\n")
    done = run_cli("doctor", cwd=tmp_path)
    assert done.returncode == 1
    assert f"[FAIL] configuration valid: {path}" in done.stdout and "port" in done.stdout


def test_doctor_unreachable_host(cli) -> None:
    result = cli("doctor", "--set", "cluster_host=127.0.0.1", "--set", "port=1", "--set", "ssh_config=/dev/null")
    assert result.exit_code == 1
    assert "[FAIL] host reachable: cannot connect to 127.0.0.1:1" in result.output


def _ssh_sets(known_hosts: str) -> list[str]:
    values = {
        "cluster_type": "local",
        "cluster_host": "127.0.0.1",
        "port": str(SSH_PORT),
        "username": SSH_USER,
        "key_file": str(SSH_DIR / "id_ed25519"),
        "known_hosts": known_hosts,
        "ssh_config": "/dev/null",
    }
    return [arg for k, v in values.items() for arg in ("--set", f"{k}={v}")]


def test_doctor_over_ssh_checks_auth_python_and_work_dir(run_cli, tmp_path) -> None:
    require("ssh")
    done = run_cli("doctor", *_ssh_sets(str(SSH_DIR / "known_hosts")), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"[ok  ] authentication: commands run on {SSH_USER}@127.0.0.1:{SSH_PORT}" in done.stdout
    assert "cloudpickle" in done.stdout


def test_doctor_over_ssh_unknown_host_key_says_how_to_add_it(cli, tmp_path) -> None:
    require("ssh")
    empty = tmp_path / "known_hosts"
    empty.touch()
    result = cli("doctor", *_ssh_sets(str(empty)))
    assert result.exit_code == 1
    assert "[FAIL] authentication" in result.output
    assert f"ssh-keyscan -p {SSH_PORT} 127.0.0.1 >> {empty}" in result.output


# --- demo ----------------------------------------------------------------------------


def test_demo_computes_pi_in_other_processes(cli) -> None:
    result = cli("demo", "--calls", "2", "--samples", "20000")
    assert result.exit_code == 0, result.output
    estimate = float(re.search(r"pi ~= ([\d.]+)", result.output).group(1))
    assert 2.9 < estimate < 3.4
    pids = re.search(r"computed in process\(es\) ([\d, ]+); this process is (\d+)", result.output)
    assert str(os.getpid()) == pids.group(2) and pids.group(2) not in pids.group(1).split(", ")


def test_demo_on_a_fresh_machine_without_any_config(run_cli, tmp_path) -> None:
    fresh = tmp_path / "fresh"
    env = {"HOME": str(fresh), "XDG_CONFIG_HOME": str(fresh / ".config"), "XDG_DATA_HOME": str(fresh / ".local")}
    env["CLUSTRIX_HOME"] = ""
    done = run_cli("demo", "--calls", "3", "--samples", "10000", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    job_id = re.search(r"submitted job (\S+):", done.stdout).group(1)
    assert (fresh / ".local" / "clustrix" / "jobs" / job_id).is_dir()  # recorded in the default home
    again = run_cli("result", f"{job_id}.2", env=env, cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.startswith("(")
