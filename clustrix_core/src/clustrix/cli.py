"""The ``clustrix`` command: find, inspect and recover jobs; check and explain configuration.

The commands live in modules named for what they do: :mod:`clustrix.cli_jobs` (jobs,
status, result, logs, cancel, clean), :mod:`clustrix.cli_config` (config, plugins,
render), :mod:`clustrix.doctor` and :mod:`clustrix.demo`.
"""

from __future__ import annotations

import click

from . import __version__
from .cli_output import ClustrixGroup


@click.group(cls=ClustrixGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="clustrix")
def main() -> None:
    """Run Python functions on clusters, and manage the jobs they became.

    Every job a `@cluster` function submits is recorded in a local job store before the
    call returns, so it can be found, watched and its result recovered from any process,
    on any later day. The store lives in Clustrix's home: $CLUSTRIX_HOME, else the
    platform's user data directory (`clustrix config path` prints it).

    \b
    Exit codes:
      0  done
      1  the operation failed (unknown job, the job failed, host unreachable)
      2  usage or configuration error (bad option, malformed config, backend not installed)

    \b
    Examples:
      clustrix demo                    run a small job on this machine, no setup needed
      clustrix jobs --state RUNNING    what is still running
      clustrix result c18f3a2b1c4d5e6 --wait
      clustrix doctor --profile hpc    check that a cluster is usable, step by step
    """


def _register() -> None:
    from . import cli_clean, cli_config, cli_jobs, demo, doctor

    for command in (*cli_jobs.COMMANDS, *cli_clean.COMMANDS, *cli_config.COMMANDS, doctor.doctor, demo.demo):
        main.add_command(command)


_register()
