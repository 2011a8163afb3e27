#!/usr/bin/env bash
# Restart slurmctld only (e.g. in a test, while jobs are pending/running): SIGTERM, wait for the
# process to exit, start it again, wait until `scontrol ping` says UP. Jobs survive (StateSaveLocation).
# Prints the elapsed seconds. Run as root.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t0=$(date +%s.%N)
if alive /run/slurmctld.pid slurmctld; then
  kill "$(cat /run/slurmctld.pid)"
  for _ in $(seq 300); do alive /run/slurmctld.pid slurmctld || break; sleep 0.05; done
fi
/usr/sbin/slurmctld
for _ in $(seq 300); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.05; done
scontrol ping | grep -q UP || { echo "slurmctld did not come back"; tail -20 /var/log/slurm/slurmctld.log; exit 1; }
echo "slurmctld restarted in $(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{printf "%.2f", a-b}') s (pid $(cat /run/slurmctld.pid))"
