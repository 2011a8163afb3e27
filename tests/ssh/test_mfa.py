"""MFA: an sshd that wants the key and then a TOTP code (PAM pam_oath), answered by mfa_command.

The figure: prompts answered = 1 for a whole process (submissions, status polls, results),
and 1 per process for separate `clustrix` CLI processes (the paramiko transport cannot
share a login between processes).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from clustrix import cluster
from clustrix.errors import TransportError
from clustrix.ssh_transport import SSHTransport

SUBMISSIONS = 100


def prompts_in(options: dict[str, Any]) -> list[str]:
    """The prompts the mfa_command of ``mfa_site`` options answered so far."""
    return Path(shlex.split(options["mfa_command"])[1]).read_text().splitlines()


def test_one_prompt_serves_every_submission_and_status_poll_of_a_process(mfa_site: dict[str, Any]) -> None:
    @cluster(**mfa_site)
    def triple(x: int) -> int:
        return 3 * x

    futures = [triple.submit(i) for i in range(SUBMISSIONS)]
    assert [f.result(timeout=600) for f in futures] == [3 * i for i in range(SUBMISSIONS)]
    assert futures[0].target.watcher.cycles > 1, "the status polls went over the same login"
    prompts = prompts_in(mfa_site)
    assert len(prompts) == 1, prompts
    assert "One-time password" in prompts[0], "the prompt came from PAM's pam_oath"


def test_three_cli_processes_prompt_once_each(mfa_site: dict[str, Any], tmp_path: Path) -> None:
    sets = [f"--set={key}={value}" for key, value in mfa_site.items() if key != "cluster_type"]
    argv = [sys.executable, "-m", "clustrix", "doctor", "--set=cluster_type=ssh", *sets]
    for _ in range(3):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "[ok  ] authentication" in done.stdout
    assert len(prompts_in(mfa_site)) == 3, "paramiko logs in once per process"


def test_wrong_code_fails_once_with_a_clear_error(mfa_site: dict[str, Any], tmp_path: Path) -> None:
    log = tmp_path / "wrong_prompts"
    options = {**mfa_site, "mfa_command": f"echo 000000; echo x >> {shlex.quote(str(log))}"}
    with pytest.raises(TransportError, match="authentication as"):
        SSHTransport.for_settings(options).run(["true"])
    assert log.read_text().count("x") == 1, "a refused code is not retried (each try would be a new prompt)"


def test_prompt_without_mfa_command_or_terminal_says_what_to_do(mfa_site: dict[str, Any]) -> None:
    options = {k: v for k, v in mfa_site.items() if k != "mfa_command"}
    with pytest.raises(TransportError, match="set mfa_command"):
        SSHTransport.for_settings(options).run(["true"])


def test_ipykernel_imported_outside_a_kernel_is_no_one_to_ask(
    mfa_site: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that imported ipykernel (notebook tooling, a progress bar) but runs no kernel
    gets the clear error too, not a getpass that nobody answers until the login times out."""
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    options = {k: v for k, v in mfa_site.items() if k != "mfa_command"}
    with pytest.raises(TransportError, match="set mfa_command"):
        SSHTransport.for_settings(options).run(["true"])
