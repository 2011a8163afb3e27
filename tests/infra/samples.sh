#!/usr/bin/env bash
# Regenerate the parser fixtures in samples/ from the running schedulers (needs `up.sh all`, Slurm
# with WITH_SLURMDBD=1). Runs samples_{pbs,slurm,sge}.sh as $SSH_USER over SSH (same environment as a
# Clustrix SSH session). Takes ~2 min (waits for a Slurm 1-minute TIMEOUT). Run as root.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SSH_PORT=${SSH_PORT:-2222} SSH_USER=${SSH_USER:-clustrix} SSH_DIR=${SSH_DIR:-/tmp/clustrix-infra/ssh}
DEST=${SAMPLES_DEST:-$HERE/samples}
W=/tmp/clustrix-infra/samples
rm -rf "$W"; install -d -m 0755 -o "$SSH_USER" "$W"
ssh_u() { ssh -p "$SSH_PORT" -i "$SSH_DIR/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
  -o UserKnownHostsFile="$SSH_DIR/known_hosts" "$SSH_USER@127.0.0.1" bash -s -- "$@"; }
ssh_u "$W" < "$HERE/samples_sge.sh" > "$W/sge.log" 2>&1 & sge=$!
ssh_u "$W" < "$HERE/samples_pbs.sh" > "$W/pbs.log" 2>&1
ssh_u "$W" < "$HERE/samples_slurm.sh" > "$W/slurm.log" 2>&1
wait $sge
mkdir -p "$DEST"
cp "$W"/*.txt "$DEST"/
cat "$W"/INDEX.*.tsv | sort > "$DEST/INDEX.tsv"
echo "$(ls "$W"/*.txt | wc -l) sample files written to $DEST"
