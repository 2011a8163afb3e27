"""`clustrix doctor`: check a target step by step and say exactly what failed and how to fix it.

Steps, in order (the first failure stops the rest): configuration valid -> backend
installed -> host reachable (TCP) -> authentication (a command runs through the
target's transport) -> remote Python with cloudpickle -> work directory writable ->
the checks the target's plugins add through ``clustrix_doctor_checks`` (a batch
scheduler: its commands present). Everything after the configuration goes through
``target.transport``, so the same checks serve a local target and an SSH one.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import click

from .cli_config import parse_sets, profile_option, resolved
from .cli_output import Failed, echo_json
from .environment import probe
from .errors import BackendNotInstalled, CheckFailed, HostKeyError, RemoteEnvironmentError
from .plugins import manager
from .target import Target, is_local_host


@dataclass
class Step:
    name: str
    status: str  # "ok", "FAIL", "skip"
    detail: str
    fix: str = ""


StepFailed = CheckFailed  # a step's failure: what was found, and the fix


def _ssh_endpoint(settings: dict[str, Any]) -> tuple[str, int, str | None]:
    """(hostname, port, route when proxied) after ~/.ssh/config, as the SSH transport resolves them."""
    from .ssh_transport import resolve_endpoint

    endpoint = resolve_endpoint(settings)
    proxied = endpoint.proxy_jump or endpoint.proxy_command
    return endpoint.hostname, endpoint.port, endpoint.route() if proxied else None


class Checks:
    """The doctor's steps for one resolved configuration."""

    def __init__(self, profile: str | None, overrides: dict[str, Any]) -> None:
        self.profile, self.overrides = profile, overrides
        self.settings: dict[str, Any] = {}
        self.target: Target | None = None

    @property
    def where(self) -> str:
        host = self.settings.get("cluster_host")
        return "this machine" if is_local_host(host) else f"{self.settings.get('username') or ''}@{host}".lstrip("@")

    def config(self) -> str:
        overrides = dict(self.overrides)
        if self.profile:
            overrides["profile"] = self.profile
        try:
            result = resolved(overrides)
        except Exception as exc:
            raise StepFailed(
                str(exc), "fix the file and key named above; `clustrix config validate` re-checks"
            ) from None
        self.settings = dict(result.values)
        source = result.sources.get("cluster_type", "default").replace("decorator", "--set")
        return f"backend {self.settings['cluster_type']!r} (from {source}) on {self.where}"

    def backend(self) -> str:
        try:
            self.target = Target(self.settings)
        except BackendNotInstalled as exc:
            raise StepFailed(str(exc), f"pip install clustrix-{exc.name}") from None
        info = manager().info.get(self.target.backend)
        return f"{self.target.backend} from {info.distribution} {info.version}".rstrip() if info else "installed"

    def reachable(self) -> str:
        if is_local_host(self.settings.get("cluster_host")):
            return "runs on this machine (no network)"
        hostname, port, proxy = _ssh_endpoint(self.settings)
        if proxy:
            return f"reached {proxy} (checked by the next step)"
        try:
            socket.create_connection((hostname, port), timeout=10).close()
        except OSError as exc:
            raise StepFailed(
                f"cannot connect to {hostname}:{port}: {exc}",
                f"check cluster_host/port (`ssh -p {port} {hostname}` should connect), VPN and firewall",
            ) from None
        return f"{hostname}:{port} accepts connections"

    def auth(self) -> str:
        assert self.target is not None
        if is_local_host(self.settings.get("cluster_host")):
            return "no authentication needed (local)"
        host = self.settings["cluster_host"]
        hostname, port, _ = _ssh_endpoint(self.settings)
        try:
            self.target.transport.run(["true"], timeout=30).check()
        except ImportError as exc:
            raise StepFailed(f"the SSH transport is not available: {exc}", "pip install -U clustrix") from None
        except HostKeyError as exc:
            raise StepFailed(
                str(exc),
                f"verify the host's fingerprint, then add it: `ssh-keyscan -p {port} {hostname} >> "
                f"{self.settings.get('known_hosts')}` (or set host_key_policy='accept-new')",
            ) from None
        except Exception as exc:
            user = self.settings.get("username") or "USER"
            raise StepFailed(
                f"{type(exc).__name__}: {exc}",
                "set key_file= or load your key into the agent (`ssh-add`), and install the public key on the "
                f"host (`ssh-copy-id {user}@{host}`); `ssh {user}@{host} true` must work without a password",
            ) from None
        endpoint = getattr(self.target.transport, "endpoint", None)  # an SSH transport says how it got there
        return f"commands run on {self.target.transport.where}" + (f", {endpoint.route()}" if endpoint else "")

    def python(self) -> str:
        assert self.target is not None
        try:
            python = self.target.prepare_environment(self.target.settings)
            found = probe(self.target.transport, python)
        except RemoteEnvironmentError as exc:
            raise StepFailed(str(exc), "set python= to the full path of a Python with cloudpickle") from None
        if found.cloudpickle is None:
            raise StepFailed(
                f"{python} cannot import cloudpickle",
                f"on {self.where}: `{python} -m pip install --user cloudpickle`, or set python= to one that has it",
            )
        version = ".".join(map(str, found.version))
        here = ".".join(map(str, sys.version_info[:2]))
        note = "" if version.startswith(here + ".") else f" (this machine runs {here}: use the same minor version)"
        return f"{python}: Python {version}, cloudpickle {found.cloudpickle}{note}"

    def work_dir(self) -> str:
        assert self.target is not None
        work = self.target.remote_work_dir
        try:
            self.target.transport.mkdirs([work])
            self.target.transport.run(["test", "-w", work]).check()
        except Exception as exc:
            raise StepFailed(f"{work} is not writable: {exc}", "set remote_work_dir= to a writable directory") from None
        return f"{work} is writable"

    def steps(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            ("configuration valid", self.config),
            ("backend installed", self.backend),
            ("host reachable", self.reachable),
            ("authentication", self.auth),
            ("remote Python + cloudpickle", self.python),
            ("work directory writable", self.work_dir),
        ]

    def backend_steps(self) -> list[tuple[str, Callable[[], str]]]:
        """The checks the target's plugins add (``clustrix_doctor_checks``), e.g. scheduler commands."""
        assert self.target is not None
        return [step for group in self.target.hooks.clustrix_doctor_checks(target=self.target) for step in group]

    def run(self) -> list[Step]:
        results: list[Step] = []
        failed = False
        for name, check in self.steps():
            failed = self._step(name, check, failed, results)
        if failed:
            results.append(Step("backend checks", "skip", "not checked: an earlier step failed"))
        else:
            assert self.target is not None
            backend = self.target.backend
            for name, check in self.backend_steps() or [("backend checks", lambda: f"{backend!r} adds none")]:
                failed = self._step(name, check, failed, results)
        if self.target is not None and "transport" in self.target.__dict__:
            self.target.transport.close()
        return results

    @staticmethod
    def _step(name: str, check: Callable[[], str], failed: bool, results: list[Step]) -> bool:
        """Run one step unless an earlier one failed; record it; True once a step has failed."""
        if failed:
            results.append(Step(name, "skip", "not checked: an earlier step failed"))
            return True
        try:
            results.append(Step(name, "ok", check()))
        except CheckFailed as exc:
            results.append(Step(name, "FAIL", exc.detail, exc.fix))
            return True
        return False


@click.command()
@profile_option
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a setting (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list of steps.")
def doctor(profile: str | None, sets: tuple[str, ...], as_json: bool) -> None:
    """Check that a target can run jobs, step by step, and say how to fix the first problem.

    \b
    Steps (the first failure stops the rest):
      1. configuration valid         config files, env variables, the profile
      2. backend installed           the plugin named by cluster_type
      3. host reachable              TCP to the SSH port (honouring ~/.ssh/config)
      4. authentication              a command runs on the host (keys, agent, known_hosts)
      5. remote Python + cloudpickle the interpreter jobs will use
      6. work directory writable     remote_work_dir (default ~/.clustrix)
      7. the backend's own checks    e.g. scheduler commands present (sbatch/squeue/... for slurm)

    Exits 0 when every step passes, 1 when one fails.

    \b
    Examples:
      clustrix doctor
      clustrix doctor --profile hpc
      clustrix doctor --set cluster_type=slurm --set cluster_host=login.example.org
    """
    steps = Checks(profile, parse_sets(sets)).run()
    if as_json:
        echo_json([asdict(s) for s in steps])
    else:
        for s in steps:
            click.echo(f"[{s.status:4}] {s.name}: {s.detail}")
            if s.fix:
                click.echo(f"       fix: {s.fix}")
    if any(s.status == "FAIL" for s in steps):
        raise Failed(f"doctor: '{next(s.name for s in steps if s.status == 'FAIL')}' failed (see above)")
