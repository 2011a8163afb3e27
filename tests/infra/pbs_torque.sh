#!/usr/bin/env bash
# PBS/Torque-style qsub/qstat/qdel (Slurm's Perl wrappers, package slurm-wlm-torque) over the
# Slurm from slurm.sh. The .deb Conflicts with gridengine-client (both own /usr/bin/qsub), so its
# files are unpacked into $PBS_BIN instead of installed: call $PBS_BIN/qsub etc. by full path
# (or PATH=$PBS_BIN:$PATH). No real PBS/Torque/OpenPBS server exists in Debian 12.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PBS_BIN=${PBS_BIN:-/opt/slurm-torque/bin}
command -v sbatch >/dev/null && scontrol ping 2>/dev/null | grep -q UP || { echo "slurm is not up: run slurm.sh first"; exit 1; }
if [ ! -x "$PBS_BIN/qsub" ]; then
  apt_install libslurm-perl libslurmdb-perl libswitch-perl
  apt-cache show slurm-wlm-torque >/dev/null 2>&1 || apt-get update -qq
  tmp=$(mktemp -d); chown _apt "$tmp" 2>/dev/null || true
  (cd "$tmp" && apt-get download -qq "slurm-wlm-torque=$(dpkg-query -W -f='${Version}' slurm-client)")
  dpkg-deb -x "$tmp"/slurm-wlm-torque_*.deb "$tmp/x"
  install -d "$PBS_BIN"
  install -m 0755 "$tmp"/x/usr/bin/* "$PBS_BIN/"
  rm -rf "$tmp"
fi
# qsub runs ${FindBin::Bin}/sbatch (its own directory): link the real Slurm commands next to it
for b in sbatch salloc srun; do ln -sf "/usr/bin/$b" "$PBS_BIN/$b"; done
# spank_pbs sets PBS_JOBID, PBS_O_WORKDIR, PBS_JOBNAME, ... inside jobs (read by slurmstepd per job)
echo 'optional /usr/lib/x86_64-linux-gnu/slurm-wlm/spank_pbs.so' > /etc/slurm/plugstack.conf.d/pbs.conf
"$PBS_BIN/qstat" -Q >/dev/null
echo "PBS wrappers ready in $PBS_BIN: $(ls "$PBS_BIN" | tr '\n' ' ')"
