"""The shell the SSH backend runs on the host: the job script and the launch/status/cancel commands.

Every value from the user (paths, job name, env values, the interpreter) reaches the
shell either as an argument (``sh -c SCRIPT sh ARG...``) or quoted with ``shlex.quote``;
the only text run verbatim is the user's own ``setup`` lines, which are shell by intent.

Markers in the job's ``status/`` directory: ``pid`` (the job script's pid, which is also
its process group and session id; the process holds ``job.sh`` open on fd 8, which tells
it from a later process that reused the pid), ``E.started`` (written by the runner), ``exit`` (exit
code of the job script), ``cancelled``, ``timeout``, ``killed`` (elements whose runner a
signal ended: each runs once more after the others, unless the job was cancelled).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from clustrix.plugin import ENV_NAME, ConfigError, Job, parse_time

#: ``sh -c LAUNCH sh JOBDIR CLAIM``, job script on stdin: write it, start it detached, print its
#: pid. Each attempt of a job is started at most once (its CLAIM, see :func:`claim`): a repeated
#: launch, sent again after the connection failed, only prints the pid of the start that got
#: through. A new attempt first clears the markers the previous one left.
LAUNCH = """\
set -e
cd "$1"
umask 077
if mkdir "$2" 2>/dev/null; then
  rm -f status/pid status/exit status/timeout status/cancelled status/killed status/killed.once
  cat > job.sh
  setsid nohup sh "$1/job.sh" </dev/null >>logs/job.log 2>&1 &
else
  cat > /dev/null
fi
i=0
while [ ! -s status/pid ]; do
  i=$((i + 1))
  if [ "$i" -gt 1000 ]; then echo "the job script did not start; see $1/logs/job.log" >&2; exit 1; fi
  sleep 0.01
done
cat status/pid
"""

#: ``sh -c STATUS sh JOBDIR...``: for each job a record: "\\036", "+alive" if running, marker paths
STATUS = """\
for d in "$@"; do
  printf '\\036\\n'
  pid=$(cat "$d/status/pid" 2>/dev/null) || pid=
  if [ -n "$pid" ] && [ "$d/job.sh" -ef "/proc/$pid/fd/8" ]; then echo +alive; fi
  for f in "$d"/status/* "$d"/results/*.pkl; do
    if [ -e "$f" ]; then printf '%s\\n' "${f#"$d"/}"; fi
  done
  if [ -e "$d/status/exit" ]; then printf '+exit %s\\n' "$(cat "$d/status/exit")"; fi
done
"""

#: ``sh -c CANCEL sh JOBDIR...``: mark each job cancelled, TERM its process group now and KILL
#: it 10 s later (detached, so the command returns at once and the future is cancelled first)
CANCEL = """\
for d in "$@"; do
  [ -d "$d/status" ] || continue
  : > "$d/status/cancelled"
  pid=$(cat "$d/status/pid" 2>/dev/null) || pid=
  if [ -n "$pid" ] && [ "$d/job.sh" -ef "/proc/$pid/fd/8" ]; then
    kill -TERM -"$pid" 2>/dev/null || true
    setsid sh -c 'sleep 10; kill -KILL -"$1" 2>/dev/null' sh "$pid" </dev/null >/dev/null 2>&1 &
  fi
done
"""


def env_lines(env: Mapping[str, Any]) -> list[str]:
    bad = [k for k in env if not ENV_NAME.match(str(k))]
    if bad:
        raise ConfigError(f"env: {bad} are not valid environment variable names (letters, digits, _)")
    return [f"export {k}={shlex.quote(str(v))}" for k, v in env.items()]


def job_script(job: Job, python: str, settings: Mapping[str, Any]) -> str:
    """The script run detached on the host: preamble, then every element through the runner."""
    name = settings.get("job_name") or job.function
    workers = settings.get("max_workers")
    lines = [
        "#!/bin/sh",
        "# Clustrix job, run detached by the ssh backend; markers in status/, logs in logs/",
        f"jobdir={shlex.quote(job.remote_dir)}",
        'cd "$jobdir" || exit 1',
        "exec 8<job.sh  # fd 8 on the script identifies this process to status and cancel",
        'printf "%s\\n" "$$" > status/pid.tmp && mv status/pid.tmp status/pid',
        f"export CLUSTRIX_JOB_ID={shlex.quote(job.job_id)}",
        f"export CLUSTRIX_JOB_NAME={shlex.quote(str(name))}",
        "export PYTHONUNBUFFERED=1",
        *env_lines(settings.get("env") or {}),
        *list(settings.get("setup") or []),  # may change directory: paths below are absolute
    ]
    watchdog = settings.get("time")
    if watchdog:
        lines += [
            f'( sleep {int(parse_time(watchdog))}; : > "$jobdir/status/timeout"; kill -KILL 0 ) '
            "</dev/null >/dev/null 2>&1 &",
            "watchdog=$!",
        ]
    parallel = str(int(workers)) if workers else '"$(nproc 2>/dev/null || echo 1)"'
    # a runner killed by a signal is noted in status/killed, and exits 1 here: on a signal exit
    # xargs would stop starting elements
    run_one = (
        '"$0" "$1/runner.py" "$1" "$2" >>"$1/logs/$2.out" 2>>"$1/logs/$2.err" '
        '|| { [ $? -gt 128 ] && echo "$2" >>"$1/status/killed"; exit 1; }'
    )
    pool = f"xargs -n 1 -P {parallel} sh -c {shlex.quote(run_one)} {shlex.quote(python)} " + '"$jobdir"'
    lines += [
        f"seq 0 {job.n_elements - 1} | {pool}",
        "code=$?",
        # an element killed mid-call (OOM killer, kill -9) without its result runs once more
        'if [ -s "$jobdir/status/killed" ] && [ ! -e "$jobdir/status/cancelled" ]; then',
        '  missing=$(sort -un "$jobdir/status/killed" | while read -r e; do [ -e "$jobdir/results/$e.pkl" ] || echo "$e"; done)',
        '  mv "$jobdir/status/killed" "$jobdir/status/killed.once"',
        '  if [ -n "$missing" ]; then',
        '    echo "clustrix: element(s)" $missing "killed without a result: running them once more"',
        f'    printf "%s\\n" $missing | {pool}',
        "    code=$?",
        "  fi",
        "fi",
    ]
    if watchdog:
        lines.append('kill "$watchdog" 2>/dev/null')
    lines.append(
        'printf "%s\\n" "$code" > "$jobdir/status/exit.tmp" && mv "$jobdir/status/exit.tmp" "$jobdir/status/exit"'
    )
    return "\n".join(lines) + "\n"


def parse_status(stdout: str, n_jobs: int) -> list[tuple[bool, set[str], int | None]]:
    """(alive, marker paths, exit code) per job, in the order the job dirs were given."""
    records = stdout.split("\036\n")[1:]
    if len(records) != n_jobs:
        raise ValueError(f"status command answered for {len(records)} jobs, expected {n_jobs}: {stdout[-300:]!r}")
    parsed = []
    for record in records:
        lines = record.splitlines()
        codes = [line.split()[1:] for line in lines if line.startswith("+exit ")]
        exit_code = int(codes[0][0]) if codes and codes[0] and codes[0][0].isdigit() else None
        parsed.append(("+alive" in lines, {line for line in lines if not line.startswith("+")}, exit_code))
    return parsed


def claim(job: Job) -> str:
    """The directory whose creation claims the start of the job's current attempt."""
    return ".launched" if job.attempt <= 1 else f".launched.a{int(job.attempt)}"


def argv_for(script: str, dirs: Sequence[str]) -> list[str]:
    return ["sh", "-c", script, "sh", *dirs]
