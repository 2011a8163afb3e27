#!/usr/bin/env bash
# Smoke test: the same trivial job script through all three front-ends AT THE SAME TIME --
#   Slurm `sbatch`, the PBS/Torque wrapper `$PBS_BIN/qsub`, and SGE `/usr/bin/qsub` --
# as root (plain shell here) and as $SSH_USER (over SSH, i.e. with exactly the environment a Clustrix
# SSH session gets: non-login, non-interactive bash; SGE_ROOT is NOT set by this script).
# Checks that each job ran as the submitting user and that python3 is found inside the job.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SSH_PORT=${SSH_PORT:-2222}
SSH_USER=${SSH_USER:-clustrix}
SSH_DIR=${SSH_DIR:-/tmp/clustrix-infra/ssh}
PBS_BIN=${PBS_BIN:-/opt/slurm-torque/bin}
TIMEOUT=${VERIFY_TIMEOUT:-120}
D=/tmp/clustrix-infra/verify
rm -rf "$D"; install -d -m 1777 "$D"

# what each user runs to submit (stdin of bash); prints "<kind> <jobid>" lines
cat > "$D/submit.sh" <<EOS
set -e
d=$D/\$(id -un); rm -rf "\$d"; mkdir -p "\$d"; cd "\$d"
cat > job.sh <<'EOJ'
#!/bin/bash
echo "user=\$(id -un) python3=\$(command -v python3) version=\$(python3 -c 'import sys; print(sys.version.split()[0])') PATH=\$PATH"
EOJ
chmod +x job.sh
echo "slurm \$(sbatch --parsable -J verify -o "\$d/slurm.out" job.sh)"
echo "pbs   \$($PBS_BIN/qsub -N verify -o "\$d/pbs.out" -e "\$d/pbs.err" job.sh)"
echo "sge   \$(qsub -terse -N verify -o "\$d/sge.out" -e "\$d/sge.err" job.sh)"
EOS
SSH_OPTS=(-p "$SSH_PORT" -i "$SSH_DIR/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes
          -o UserKnownHostsFile="$SSH_DIR/known_hosts" -o StrictHostKeyChecking=yes)
echo "== root (local shell)"; env -u SGE_ROOT -u SGE_CELL bash "$D/submit.sh"
echo "== $SSH_USER (ssh 127.0.0.1:$SSH_PORT)"; ssh "${SSH_OPTS[@]}" "$SSH_USER@127.0.0.1" bash -s < "$D/submit.sh"

fail=0
for u in root "$SSH_USER"; do
  for k in slurm pbs sge; do
    f="$D/$u/$k.out"; ok=
    for _ in $(seq $((TIMEOUT * 5))); do grep -q '^user=' "$f" 2>/dev/null && { ok=1; break; }; sleep 0.2; done
    if [ -n "$ok" ] && grep -q "^user=$u python3=/" "$f"; then
      printf 'OK   %-9s %-5s %s\n' "$u" "$k" "$(cut -d' ' -f1-3 "$f")"
    else
      printf 'FAIL %-9s %-5s %s\n' "$u" "$k" "$(cat "$f" "$D/$u/$k.err" 2>/dev/null | head -3)"; fail=1
    fi
  done
done
[ $fail = 0 ] && echo "verify OK: sbatch, $PBS_BIN/qsub and SGE qsub work for root and $SSH_USER"
exit $fail
