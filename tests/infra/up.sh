#!/usr/bin/env bash
# Bring up the loopback test infrastructure:  bash tests/infra/up.sh [ssh] [ssh_sites] [slurm] [torque] [sge] [verify] [all]
# (no argument = all = ssh ssh_sites slurm torque sge; `verify` additionally runs verify.sh: one trivial job through
# sbatch, $PBS_BIN/qsub and SGE qsub, as root and as the test user). Components always run in the order
# ssh -> ssh_sites -> slurm -> torque -> sge, whatever order they are given in. Each script is idempotent (a re-run
# only restarts what is dead or reconfigured). Prints one line per component with its wall time; on the
# first failure prints the tail of that component's log and exits non-zero.
# Env passed through: WITH_SLURMDBD (default 1), SSH_PORT, SSH_USER, SSH_DIR, PBS_BIN, SLURM_MIN_JOB_AGE, ...
# Logs: $INFRA_LOG_DIR (default /tmp/clustrix-infra/logs)/<component>.log
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_DIR=${INFRA_LOG_DIR:-/tmp/clustrix-infra/logs}
[ "$(id -u)" = 0 ] || { echo "up.sh: must run as root" >&2; exit 2; }
mkdir -p "$LOG_DIR"

declare -A want=()
[ $# -eq 0 ] && set -- all
for a in "$@"; do
  case "$a" in
    all) want[ssh]=1 want[ssh_sites]=1 want[slurm]=1 want[torque]=1 want[sge]=1 ;;
    ssh|ssh_sites|slurm|torque|sge|verify) want[$a]=1 ;;
    pbs|pbs_torque) want[torque]=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "up.sh: unknown component '$a' (ssh ssh_sites slurm torque sge verify all)" >&2; exit 2 ;;
  esac
done

declare -A script=([ssh]=ssh.sh [ssh_sites]=ssh_sites.sh [slurm]=slurm.sh [torque]=pbs_torque.sh [sge]=sge.sh [verify]=verify.sh)
total0=$(date +%s.%N)
for c in ssh ssh_sites slurm torque sge verify; do
  [ -n "${want[$c]:-}" ] || continue
  log="$LOG_DIR/$c.log"
  t0=$(date +%s.%N)
  bash "$HERE/${script[$c]}" >"$log" 2>&1 </dev/null
  rc=$?
  dt=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{printf "%.1f", a-b}')
  if [ $rc -ne 0 ]; then
    printf '%-7s FAILED rc=%d after %ss; last lines of %s:\n' "$c" "$rc" "$dt" "$log" >&2
    tail -n 40 "$log" | sed 's/^/  | /' >&2
    exit 1
  fi
  printf '%-7s ok %6ss  %s\n' "$c" "$dt" "$(grep -E 'ready|OK' "$log" | tail -n 1 | cut -c1-150)"
done
printf 'total   ok %6ss\n' "$(awk -v a="$(date +%s.%N)" -v b="$total0" 'BEGIN{printf "%.1f", a-b}')"
