"""Keyboard-interactive logins (MFA): answering the host's prompts once per connection.

Many sites ask for a one-time code after the key (OpenSSH's ``AuthenticationMethods
publickey,keyboard-interactive``). paramiko would print the prompt and read stdin; here
each prompt is answered by the ``mfa_command`` setting (a shell command whose output is
the answer, e.g. ``oathtool --totp ...`` or a password manager's CLI) or, without one, asked
on the terminal or in the notebook with ``getpass``. The authenticated connection is shared
by everything the process does (see ``SSHTransport``), so that is one prompt per process.
"""

from __future__ import annotations

import getpass
import logging
import os
import subprocess
import sys
import threading
from typing import Any

import paramiko

from .errors import TransportError

log = logging.getLogger("clustrix.ssh")

_count_lock = threading.Lock()
#: prompts answered in this process (the MFA figure of `nox -s bench` and the tests)
prompts_answered = 0


def can_ask_user() -> bool:
    """A person can answer a prompt here: a terminal on stdin, or a Jupyter kernel's frontend.

    A kernel is recognised by the running shell, not by ``ipykernel`` being imported: a
    process that merely imports it (a test runner driving notebooks, a progress library)
    has nobody to answer.
    """
    return _in_jupyter_kernel() or bool(sys.stdin and sys.stdin.isatty())


def _in_jupyter_kernel() -> bool:
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def answer(prompt: str, echo: bool, mfa_command: str | None, where: str, timeout: float) -> str:
    """The answer to one keyboard-interactive prompt of ``where``."""
    global prompts_answered
    with _count_lock:
        prompts_answered += 1
    if mfa_command:
        try:
            done = subprocess.run(
                ["/bin/sh", "-c", mfa_command],
                capture_output=True,
                text=True,
                timeout=timeout,
                env={**os.environ, "CLUSTRIX_MFA_PROMPT": prompt},
            )
        except subprocess.TimeoutExpired:
            raise TransportError(
                f"mfa_command did not answer {where}'s prompt {prompt!r} within {timeout:g} s"
            ) from None
        if done.returncode != 0:
            raise TransportError(
                f"mfa_command failed (exit {done.returncode}) answering {where}'s prompt {prompt!r}: "
                f"{done.stderr.strip()[-300:]}"
            )
        return done.stdout.strip()
    if not can_ask_user():
        raise TransportError(
            f"{where} asks {prompt.strip()!r} (a keyboard-interactive login, e.g. a one-time code) and nobody can "
            "answer here: set mfa_command to a command that prints the answer (e.g. `oathtool --totp ...`), "
            "or start once from a terminal"
        )
    return (input if echo else getpass.getpass)(f"{where} {prompt.strip()} ")


class SiteTransport(paramiko.Transport):
    """paramiko's Transport with a larger window and packets (bulk uploads are not window-bound)
    that answers keyboard-interactive prompts through :func:`answer` instead of stdin."""

    def __init__(self, sock: Any, *, mfa_command: str | None, where: str, timeout: float, **kwargs: Any) -> None:
        super().__init__(sock, default_window_size=64 << 20, default_max_packet_size=256 << 10, **kwargs)
        self._mfa_command, self._where, self._answer_timeout = mfa_command, where, timeout

    def _answers(self, title: str, instructions: str, prompts: list[tuple[str, bool]]) -> list[str]:
        if title.strip() or instructions.strip():
            log.info("%s: %s %s", self._where, title.strip(), instructions.strip())
        return [answer(p, echo, self._mfa_command, self._where, self._answer_timeout) for p, echo in prompts]

    def auth_interactive_dumb(self, username: str, handler: Any = None, submethods: str = "") -> list[str]:
        """Called by SSHClient once the key was accepted and the host wants more (MFA)."""
        result: list[str] = self.auth_interactive(username, self._answers, submethods)
        return result
