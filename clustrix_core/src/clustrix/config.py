"""Configuration: every key Clustrix reads, where its value comes from, and validation.

Layers, highest first: decorator keywords > ``configure()`` > ``CLUSTRIX_*`` environment
variables > ``./clustrix.toml`` > the user config file > defaults. A named profile
(``[profiles.NAME]`` in either file) is a bundle of values; selecting it with
``profile=`` puts its values just below the layer that selected it.

Plugins add their own keys through the ``clustrix_settings`` hook, so the key list is
the core's plus the installed backends'; an unknown key is an error naming the valid ones.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import threading
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from .errors import ConfigError
from .quantities import parse_memory, parse_time


@dataclass(frozen=True)
class Setting:
    """One configuration key: its type, default and the line of help shown everywhere."""

    name: str
    type: type | tuple[type, ...]
    default: Any
    help: str
    group: str = "target"  # "target" (where), "resources" (what the job asks for), "behaviour"
    choices: tuple[Any, ...] | None = None
    check: Callable[[Any], Any] | None = None  # raises ConfigError on a bad value
    plugin: str = "clustrix"
    #: range of a number: at least ``minimum``, more than ``above``, at most ``maximum``
    minimum: float | None = None
    above: float | None = None
    maximum: float | None = None
    #: characters no text in the value may hold: each would end a line of the job script
    #: (newline, carriage return) or cut it short (NUL), so a value could inject a command
    refused: str = "\n\r\x00"

    def range_text(self) -> str:
        """The allowed range in words ('1 to 65535', '0 or more', 'more than 0'), or ''."""
        low = f"{self.minimum:g}" if self.minimum is not None else None
        if low is not None and self.maximum is not None:
            return f"{low} to {self.maximum:g}"
        parts = [
            f"{low} or more" if low is not None else "",
            f"more than {self.above:g}" if self.above is not None else "",
        ]
        parts.append(f"at most {self.maximum:g}" if self.maximum is not None else "")
        return " and ".join(p for p in parts if p)


_CHARACTER_NAMES = {"\n": "a newline", "\r": "a carriage return", "\x00": "a NUL character"}
#: a shell environment variable name (``env`` keys are checked against it before any script is written)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _texts(value: Any) -> Iterable[str]:
    """Every string inside a value: itself, a list's items, a mapping's keys and values."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _texts(item)


def _takes_lines(setting: Setting) -> bool:
    return isinstance(setting.type, tuple) and list in setting.type


def _check_text(setting: Setting, value: Any) -> None:
    for text in _texts(value):
        for char in setting.refused:
            if char in text:
                hint = " (give several lines as a list, one item per line)" if _takes_lines(setting) else ""
                raise ConfigError(
                    f"{setting.name}: {text!r} holds {_CHARACTER_NAMES.get(char, repr(char))}, which would end or "
                    f"cut a line of the job script; remove it{hint}"
                )


def _check_range(setting: Setting, value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    if setting.minimum is None and setting.above is None and setting.maximum is None:
        return
    ok = math.isfinite(value)
    ok = ok and (setting.minimum is None or value >= setting.minimum)
    ok = ok and (setting.above is None or value > setting.above)
    ok = ok and (setting.maximum is None or value <= setting.maximum)
    if not ok:
        raise ConfigError(f"{setting.name}={value!r} is out of range: it must be {setting.range_text()}")


def _lines(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _check_lines(name: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        for line in _lines(value):
            if not isinstance(line, str):
                raise ConfigError(f"{name}: each line must be a string, not {line!r}")

    return check


def _check_work_dir(value: str) -> None:
    if value.startswith("~") and not (value == "~" or value.startswith("~/")):
        raise ConfigError(
            f"remote_work_dir: {value!r} names another user's home, which Clustrix does not look up; "
            "write an absolute path, or one under your own home ('~/dir' or 'dir')"
        )


def _check_env(value: Mapping[Any, Any]) -> None:
    """Variable names a shell accepts; values are quoted wherever they are written."""
    for name, item in value.items():
        if not isinstance(name, str) or not ENV_NAME.match(name):
            raise ConfigError(
                f"env: {name!r} is not a valid environment variable name (letters, digits and _, not first a digit)"
            )
        if not isinstance(item, (str, int, float)):
            raise ConfigError(f"env: the value of {name} must be a string or a number, not {item!r}")


#: how a resource grows on a retry, and the failure that grows it (see ``clustrix.retry``)
ESCALATED = {"memory": "OUT_OF_MEMORY", "time": "TIMEOUT"}
#: keys only Python code may set (decorator, ``.map()``, ``configure()``): their values are classes
CODE_ONLY = frozenset({"retry_on"})


def _check_escalate(value: Mapping[Any, Any]) -> None:
    for key, factor in value.items():
        if key not in ESCALATED:
            raise ConfigError(
                f"escalate: {key!r} cannot be escalated; only 'memory' (grown on OUT_OF_MEMORY) and 'time' "
                "(grown on TIMEOUT), e.g. escalate={'memory': 2.0}"
            )
        ok = isinstance(factor, (int, float)) and not isinstance(factor, bool) and math.isfinite(factor)
        if not ok or factor <= 1:
            raise ConfigError(
                f"escalate: the factor of {key} must be a number above 1 (2.0 doubles it), not {factor!r}"
            )


def _check_retry_on(value: Any) -> None:
    for item in value if isinstance(value, (tuple, list)) else (value,):
        named = isinstance(item, str) and re.match(r"^[A-Za-z_][\w.]*$", item)
        if not named and not (isinstance(item, type) and issubclass(item, BaseException)):
            raise ConfigError(
                f"retry_on: {item!r} is not an exception class; give a tuple of classes, e.g. retry_on=(ConnectionError,)"
            )


def class_name(cls: type | str) -> str:
    """An exception class as it is kept in a job's settings: ``module.QualName`` (``ConnectionError``
    for a builtin), so the job store and another process can judge a retry without the class."""
    if isinstance(cls, str):
        return cls
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


S = Setting
CORE_SETTINGS: tuple[Setting, ...] = (
    S("cluster_type", str, "local", "Backend that runs the job: an installed plugin name."),
    S("profile", str, None, "Named profile ([profiles.NAME] in a config file) to apply."),
    S("cluster_host", str, None, "Host to reach over SSH; unset or 'localhost' runs here."),
    S("username", str, None, "SSH user (default: ~/.ssh/config, then the local user)."),
    S("key_file", str, None, "SSH private key file (default: ~/.ssh/config and agent)."),
    S("port", int, None, "SSH port (default: ~/.ssh/config, then 22).", minimum=1, maximum=65535),
    S("ssh_config", str, "~/.ssh/config", "OpenSSH client config file to honour."),
    S("known_hosts", str, "~/.ssh/known_hosts", "known_hosts file checked for host keys."),
    S(
        "host_key_policy",
        str,
        "strict",
        "'strict' refuses hosts not in known_hosts; 'accept-new' records a new host's key.",
        choices=("strict", "accept-new"),
    ),
    S(
        "ssh_timeout",
        float,
        30.0,
        "Seconds any one wait on an SSH host may take (connect, login, each reply); a stalled host then raises.",
        "behaviour",
        above=0,
    ),
    S(
        "ssh_client",
        str,
        "paramiko",
        "'paramiko' (built in) or 'openssh' (the system ssh: one shared login for every process, host certificates).",
        "behaviour",
        choices=("paramiko", "openssh"),
    ),
    S(
        "mfa_command",
        str,
        None,
        "Shell command printing the answer to an SSH login's prompt (a one-time code); default: ask on the terminal.",
        "behaviour",
    ),
    S(
        "remote_work_dir",
        str,
        None,
        "Job directories on the execution host (default: ~/.clustrix); a relative path is under the home directory.",
        check=_check_work_dir,
    ),
    S("python", str, None, "Python on the execution host (default: this one locally, else python3)."),
    S("home", str, None, "Local Clustrix directory: job store and job dirs (env CLUSTRIX_HOME)."),
    S("poll_interval", float, 0.05, "First interval between status polls, seconds.", "behaviour", above=0),
    S(
        "max_poll_interval",
        float,
        2.0,
        "Longest interval between status polls, seconds (not below poll_interval): how soon a "
        "result file is noticed. A batch scheduler is asked less often (status_queries_per_minute).",
        "behaviour",
        above=0,
    ),
    S(
        "status_queries_per_minute",
        float,
        2.0,
        "Most status commands (squeue/qstat, then accounting) a batch target gets per minute once its "
        "youngest watched job is a minute old; results are still seen from their files every poll.",
        "behaviour",
        above=0,
    ),
    S(
        "result_grace",
        float,
        60.0,
        "Seconds a batch job reported COMPLETED may take to show its result file (shared filesystems lag).",
        "behaviour",
        minimum=0,
    ),
    S(
        "accounting_grace",
        float,
        300.0,
        "Seconds a batch job the scheduler no longer lists may stay non-final in accounting before "
        "it counts as lost (accounting records a job's end asynchronously).",
        "behaviour",
        minimum=0,
    ),
    S(
        "status_failures",
        int,
        10,
        "Poll cycles in a row whose status call fails before the job's futures fail with that error.",
        "behaviour",
        minimum=1,
    ),
    S("keep_files", bool, False, "Keep job directories after a successful result.", "behaviour"),
    S(
        "max_log_bytes",
        int,
        10 * 1024 * 1024,
        "Bytes of a job's stdout (and of its stderr) kept on disk: the first half and the last quarter; 0 keeps all.",
        "behaviour",
        minimum=0,
    ),
    S(
        "executor",
        str,
        None,
        "Local backend: 'threads' or 'processes' (default: chosen per function).",
        "behaviour",
        choices=(None, "threads", "processes"),
    ),
    S("max_workers", int, None, "Local backend: parallel workers (default: CPU count).", "behaviour", minimum=1),
    S("cores", int, 1, "CPU cores per call.", "resources", minimum=1),
    S("memory", (str, int), None, "Memory per call, e.g. '16GB', '512MB', '2Gi'.", "resources", check=parse_memory),
    S("time", (str, int), None, "Time limit, e.g. '02:00:00', '90m'.", "resources", check=parse_time),
    S("account", str, None, "Account/project charged.", "resources"),
    S("gpus", int, None, "GPUs per call.", "resources", minimum=0),
    S("nodes", int, None, "Nodes per job.", "resources", minimum=1),
    S("job_name", str, None, "Job name shown by the scheduler (default: the function name).", "resources"),
    S(
        "env",
        dict,
        {},
        "Environment variables set in the job (values are quoted).",
        "resources",
        check=_check_env,
        refused="\x00",
    ),
    S(
        "setup",
        (str, list),
        [],
        "Shell lines run before the function (module load ...); no carriage return or NUL.",
        "resources",
        check=_check_lines("setup"),
        refused="\r\x00",
    ),
    S(
        "extra_directives",
        (str, list),
        [],
        "Scheduler directives added verbatim, one per item (no newlines).",
        "resources",
        check=_check_lines("extra_directives"),
    ),
    S(
        "tasks_per_job",
        int,
        None,
        "Calls run in a row by one array element (default: automatic).",
        "resources",
        minimum=1,
    ),
    S("max_concurrent", int, None, "At most this many array elements run at once.", "resources", minimum=1),
    S(
        "array_workers",
        int,
        None,
        "Batch schedulers: array tasks that take a map's elements one after another, claiming each "
        "(default: automatic: max_concurrent, else 64, when the map has more elements; 0: one task "
        "per element, as with tasks_per_job or retries).",
        "resources",
        minimum=0,
    ),
    S(
        "retries",
        int,
        0,
        "Times a call is submitted again after the cluster killed it (out of memory, time limit, preemption, "
        "node failure, lost) or it raised an exception of retry_on.",
        "behaviour",
        minimum=0,
    ),
    S(
        "escalate",
        dict,
        {},
        "Resource growth per retry: {'memory': 2.0} multiplies memory after OUT_OF_MEMORY, {'time': 1.5} "
        "the time limit after TIMEOUT (capped by the partition's limits when the scheduler tells them).",
        "behaviour",
        check=_check_escalate,
    ),
    S(
        "retry_on",
        (tuple, list, type),
        (),
        "Exception classes of the function that are retried too (decorator, .map() or configure() only).",
        "behaviour",
        check=_check_retry_on,
    ),
)


def settings_table(extra: Iterable[Setting] = ()) -> dict[str, Setting]:
    table = {s.name: s for s in CORE_SETTINGS}
    for s in extra:
        table.setdefault(s.name, s)
    return table


def unknown_key(key: str, table: Mapping[str, Setting], where: str) -> str:
    close = difflib.get_close_matches(key, list(table), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"{where}: unknown key {key!r}.{hint} Valid keys: {', '.join(sorted(table))}"


def coerce(setting: Setting, value: Any, where: str, from_text: bool = False) -> Any:
    """Check one value (converting text from env vars); raise ConfigError naming the key."""
    if value is None:
        return None
    types = setting.type if isinstance(setting.type, tuple) else (setting.type,)
    if from_text and isinstance(value, str) and str not in types:
        value = _from_text(setting, value, where)
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        names = " or ".join(t.__name__ for t in types)
        raise ConfigError(f"{where}: {setting.name} must be {names}, not {value!r}")
    if setting.choices is not None and value not in setting.choices:
        raise ConfigError(
            f"{where}: {setting.name}={value!r} is not one of "
            f"{', '.join(repr(c) for c in setting.choices if c is not None)}"
        )
    try:
        _check_text(setting, value)
        if setting.check is not None:
            setting.check(value)
        _check_range(setting, value)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return value


def _from_text(setting: Setting, text: str, where: str) -> Any:
    types = setting.type if isinstance(setting.type, tuple) else (setting.type,)
    try:
        if bool in types:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if int in types:
            return int(text)
        if float in types:
            return float(text)
        if dict in types or list in types:
            return json.loads(text)
    except ValueError:
        names = " or ".join(t.__name__ for t in types)
        raise ConfigError(f"{where}: {setting.name} must be {names}, not {text!r}") from None
    return text


@dataclass
class Layer:
    """Values from one source, plus the profiles that source defines."""

    source: str
    values: dict[str, Any] = field(default_factory=dict)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolved:
    """The effective settings of one call: values and, for each, where it came from."""

    values: Mapping[str, Any]
    sources: Mapping[str, str]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        value = self.values.get(key)
        return default if value is None else value


_configured: dict[str, Any] = {}
_lock = threading.Lock()


def user_config_path() -> Path:
    return Path(platformdirs.user_config_dir("clustrix")) / "config.toml"


def project_config_path() -> Path:
    return Path.cwd() / "clustrix.toml"


def read_toml(path: Path, table: Mapping[str, Setting]) -> Layer:
    layer = Layer(source=str(path))
    if not path.is_file():
        return layer
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    profiles = data.pop("profiles", {})
    layer.values = _checked(data, table, str(path), from_code=False)
    for name, values in profiles.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: [profiles.{name}] must be a table")
        layer.profiles[name] = _checked(values, table, f"{path} [profiles.{name}]", from_code=False)
    return layer


def _checked(
    values: Mapping[str, Any], table: Mapping[str, Setting], where: str, from_code: bool = True
) -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        if key not in table:
            raise ConfigError(unknown_key(key, table, where))
        if key in CODE_ONLY and not from_code:
            raise ConfigError(_code_only(key, where))
        out[key] = coerce(table[key], value, where)
    return out


def _code_only(key: str, where: str) -> str:
    return (
        f"{where}: {key} names exception classes, which only Python code can give: set it in @cluster(...), "
        f".map(..., {key}=...) or clustrix.configure(), not in a configuration file or the environment"
    )


def env_layer(table: Mapping[str, Setting], environ: Mapping[str, str] | None = None) -> Layer:
    environ = os.environ if environ is None else environ
    values = {}
    for name, setting in table.items():
        text = environ.get("CLUSTRIX_" + name.upper())
        if text is not None and text != "" and name in CODE_ONLY:
            raise ConfigError(_code_only(name, f"env CLUSTRIX_{name.upper()}"))
        if text is not None and text != "":
            values[name] = coerce(setting, text, f"env CLUSTRIX_{name.upper()}", from_text=True)
    return Layer("env", values)


def set_configured(values: Mapping[str, Any], table: Mapping[str, Setting], reset: bool = False) -> None:
    """The layer ``configure()`` sets: ``values`` checked against ``table`` (every plugin's
    keys, so the caller passes it: this module knows no plugins)."""
    checked = _checked(values, table, "configure()")
    with _lock:
        if reset:
            _configured.clear()
        _configured.update(checked)


def layers(decorator: Mapping[str, Any], table: Mapping[str, Setting], source: str = "decorator") -> list[Layer]:
    """All layers, highest priority first (the decorator's values are already checked)."""
    with _lock:
        configured = dict(_configured)
    project = read_toml(project_config_path(), table)
    user = read_toml(user_config_path(), table)
    return [
        Layer(source, dict(decorator)),
        Layer("configure()", configured),
        env_layer(table),
        project,
        user,
        Layer("default", {name: s.default for name, s in table.items()}),
    ]


def resolve(decorator: Mapping[str, Any], table: Mapping[str, Setting], source: str = "decorator") -> Resolved:
    """Merge the layers; insert the selected profile below the layer that selected it.

    The top layer's values are checked here too, so a caller that did not check them
    (``lifecycle.render``, ``lifecycle.submit``) cannot pass a bad value on."""
    stack = layers(_checked(decorator, table, source), table, source)
    profiles: dict[str, dict[str, Any]] = {}
    for layer in reversed(stack):
        profiles.update(layer.profiles)
    for i, layer in enumerate(stack):
        name = layer.values.get("profile")
        if name:
            if name not in profiles:
                raise ConfigError(
                    f"{layer.source}: profile {name!r} is not defined; defined profiles: "
                    f"{', '.join(sorted(profiles)) or 'none'} (in {project_config_path()} "
                    f"or {user_config_path()})"
                )
            stack.insert(i + 1, Layer(f"profile {name}", profiles[name]))
            break
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for layer in stack:
        for key, value in layer.values.items():
            if key not in values and value is not None:
                values[key] = value
                sources[key] = layer.source
    for key in table:
        values.setdefault(key, None)
        sources.setdefault(key, "default")
    for key in ("setup", "extra_directives"):
        values[key] = _lines(values[key] or [])
    retry_on = values.get("retry_on") or ()
    values["retry_on"] = [class_name(c) for c in (retry_on if isinstance(retry_on, (tuple, list)) else (retry_on,))]
    _check_together(values, sources)
    return Resolved(values, sources)


def _check_together(values: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    """Checks that involve more than one key (each may come from another layer)."""
    low, high = values.get("poll_interval"), values.get("max_poll_interval")
    if low is not None and high is not None and high < low:
        raise ConfigError(
            f"max_poll_interval={high!r} (from {sources['max_poll_interval']}) is below "
            f"poll_interval={low!r} (from {sources['poll_interval']}); raise max_poll_interval or lower poll_interval"
        )


def check_decorator_kwargs(kwargs: Mapping[str, Any], table: Mapping[str, Setting]) -> dict[str, Any]:
    """Validate decorator keywords: unknown ones are a TypeError, as for any function."""
    for key in kwargs:
        if key not in table:
            raise TypeError(unknown_key(key, table, "@cluster()"))
    return _checked(kwargs, table, "@cluster()")
