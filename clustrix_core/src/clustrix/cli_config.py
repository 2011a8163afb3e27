"""`clustrix config|plugins|render`: what is configured, what is installed, what would be submitted."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import config, lifecycle
from .cli_output import echo_json, masked_settings, table
from .decorator import ClusterFunction
from .errors import ConfigError
from .plugins import manager
from .target import clustrix_home

profile_option = click.option("--profile", "-p", help="Apply this named profile ([profiles.NAME] in a config file).")


def parse_sets(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--set KEY=VALUE`` options, checked against the settings table like env variables."""
    table_ = manager().settings()
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--set")
        if key not in table_:
            raise ConfigError(config.unknown_key(key, table_, "--set"))
        values[key] = config.coerce(table_[key], text, f"--set {key}", from_text=True)
    return values


def resolved(overrides: dict[str, Any]) -> config.Resolved:
    return config.resolve(overrides, manager().settings(), source="command line")


@click.group(name="config")
def config_group() -> None:
    """Show, locate and check Clustrix's configuration.

    Values come from, highest first: @cluster keywords > configure() > CLUSTRIX_* environment
    variables > ./clustrix.toml > the user config file > defaults. A profile's values sit
    just below the layer that selected it.

    \b
    Examples:
      clustrix config show --profile hpc
      clustrix config validate
    """


@config_group.command()
@profile_option
@click.option("--all", "show_all", is_flag=True, help="Also list keys that are unset.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable: {key: {value, source}}.")
@click.option("--show-env", is_flag=True, help="Show env values (masked by default: they often hold tokens).")
def show(profile: str | None, show_all: bool, as_json: bool, show_env: bool) -> None:
    """Print the effective configuration and where each value comes from.

    \b
    Examples:
      clustrix config show
      clustrix config show --profile hpc --json
    """
    result = resolved({"profile": profile} if profile else {})
    values = masked_settings(dict(result.values), show_env)
    keys = [k for k in sorted(values) if show_all or values[k] not in (None, [], {})]
    if as_json:
        echo_json({k: {"value": values[k], "source": result.sources[k]} for k in keys})
        return
    click.echo(table(["KEY", "VALUE", "SOURCE"], [(k, repr(values[k]), result.sources[k]) for k in keys]))


@config_group.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def path(as_json: bool) -> None:
    """Print where Clustrix reads its config files and keeps its job store.

    \b
    Examples:
      clustrix config path
      $EDITOR "$(clustrix config path --json | jq -r .user_config)"
    """
    try:
        home = clustrix_home(resolved({}).values)
    except ConfigError:  # a broken config file must not hide where the config files are
        home = clustrix_home()
    paths = {
        "user_config": str(config.user_config_path()),
        "project_config": str(config.project_config_path()),
        "home": str(home),
        "job_store": str(home / "jobs.sqlite"),
    }
    if as_json:
        echo_json(paths)
        return
    for name, value in paths.items():
        exists = "" if name == "home" else ("" if Path(value).exists() else "  (not present)")
        click.echo(f"{name.replace('_', ' ')}: {value}{exists}")


@config_group.command()
@profile_option
def validate(profile: str | None) -> None:
    """Check the config files, environment variables and profiles; exit 2 naming the file and key at fault.

    Also checks that the backend each profile selects is installed.

    \b
    Example:
      clustrix config validate && echo ok
    """
    table_ = manager().settings()
    files = [config.read_toml(p, table_) for p in (config.project_config_path(), config.user_config_path())]
    config.env_layer(table_)
    result = resolved({"profile": profile} if profile else {})
    manager().hooks(result["cluster_type"])
    for layer in files:
        for name, values in layer.profiles.items():
            if values.get("cluster_type"):
                try:
                    manager().hooks(values["cluster_type"])
                except ConfigError as exc:
                    raise ConfigError(f"{layer.source} [profiles.{name}]: {exc}") from None
    for layer in files:
        if Path(layer.source).is_file():
            profiles = f"; profiles: {', '.join(sorted(layer.profiles))}" if layer.profiles else ""
            click.echo(f"ok: {layer.source} ({len(layer.values)} keys{profiles})")
    click.echo(f"ok: effective configuration is valid (backend {result['cluster_type']!r})")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json: bool) -> None:
    """List installed Clustrix plugins (backends first) and any that failed to load, with the reason.

    Plugins are found through the `clustrix` entry-point group; the entry point's name is
    the backend name used in `cluster_type`.

    \b
    Example:
      clustrix plugins
    """
    pm = manager()
    info = sorted(pm.info.values(), key=lambda i: (not i.backend, i.name))
    failed = sorted(pm.failed.values(), key=lambda i: i.name)
    if as_json:
        echo_json({"plugins": [vars(i) for i in info], "failed": [vars(i) for i in failed]})
        return
    click.echo(
        table(
            ["NAME", "KIND", "DISTRIBUTION", "VERSION"],
            [(i.name, "backend" if i.backend else "plugin", i.distribution, i.version or "-") for i in info],
        )
    )
    for i in failed:
        click.echo(f"failed to load: {i.name} (from {i.distribution} {i.version}): {i.error}")


def load_function(ref: str) -> Callable[..., Any]:
    """``module:function`` or ``path/to/file.py:function`` (dotted attributes allowed)."""
    where, sep, attr = ref.rpartition(":")
    if not sep or not where or not attr:
        raise click.BadParameter(f"{ref!r} is not MODULE:FUNCTION or FILE.py:FUNCTION", param_hint="FUNCTION_REF")
    if where.endswith(".py") or "/" in where:
        file = Path(where)
        if not file.is_file():
            raise click.BadParameter(f"no such file: {file}", param_hint="FUNCTION_REF")
        sys.path.insert(0, str(file.resolve().parent))
        spec = importlib.util.spec_from_file_location(file.stem, file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[file.stem] = module
        spec.loader.exec_module(module)
    else:
        sys.path.insert(0, str(Path.cwd()))
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise click.BadParameter(f"cannot import {where!r}: {exc}", param_hint="FUNCTION_REF") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise click.BadParameter(f"{where!r} has no attribute {attr!r}", param_hint="FUNCTION_REF")
        obj = getattr(obj, part)
    if not callable(obj):
        raise click.BadParameter(f"{ref} is not callable", param_hint="FUNCTION_REF")
    return obj


@click.command()
@click.argument("function_ref")
@profile_option
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a setting (repeatable).")
@click.option(
    "--calls",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Render as a .map() of this many calls (an array job).",
)
def render(function_ref: str, profile: str | None, sets: tuple[str, ...], calls: int) -> None:
    """Print the job script the configured backend would submit for FUNCTION_REF, without submitting.

    FUNCTION_REF is MODULE:FUNCTION or path/to/file.py:FUNCTION; a @cluster-decorated
    function brings its own settings (then --profile and --set override them). The job is
    packaged in a temporary directory and discarded; nothing is sent and no host is
    contacted (the remote home is shown as $HOME unless remote_work_dir is set).

    \b
    Examples:
      clustrix render analysis.py:simulate --profile hpc
      clustrix render mypkg.jobs:train --set cluster_type=slurm --set partition=gpu --calls 100
    """
    func = load_function(function_ref)
    overrides: dict[str, Any] = {}
    if isinstance(func, ClusterFunction):
        overrides.update(func.options)
        func = func.__wrapped__
    if profile:
        overrides["profile"] = profile
    overrides.update(parse_sets(sets))
    with tempfile.TemporaryDirectory(prefix="clustrix-render-") as tmp:  # a throw-away home
        job, script = lifecycle.render(func, [((), {})] * calls, overrides, Path(tmp))
    if script is None:
        click.echo(
            f"backend {job.backend!r} submits no job script: it runs the job's elements in a process it "
            "starts itself (for 'local': `python -m clustrix.backends.local_worker JOBDIR`, detached)."
        )
        return
    click.echo(script, nl=not script.endswith("\n"))


COMMANDS = [config_group, plugins, render]
