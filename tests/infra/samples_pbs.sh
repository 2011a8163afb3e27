#!/usr/bin/env bash
# Capture real outputs of the PBS/Torque wrappers (Slurm's qsub/qstat/qdel in $PBS_BIN) into $1
# (run as the test user; see samples.sh). INDEX.pbs.tsv lists file, exit code and exact command.
set -u
OUT=$1; P_=${PBS_BIN:-/opt/slurm-torque/bin}; cd ~
cap() { local f=$1; shift; "$@" > "$OUT/$f" 2>&1; printf '%s\trc=%s\t%s\n' "$f" "$?" "$*" >> "$OUT/INDEX.pbs.tsv"; }
rm -f pbs_*.txt pbs_directives.sh.[oe]* fail.sh.[oe]*
printf '#!/bin/bash\nexit 3\n' > fail.sh   # (the wrapper cannot read a script from stdin: prints usage)
cat > pbs_sample.sh <<'EOS'
#!/bin/bash
#PBS -N pbsname
#PBS -l nodes=1:ppn=2,mem=1gb,walltime=00:10:00
echo "PBS_JOBID=$PBS_JOBID PBS_O_WORKDIR=$PBS_O_WORKDIR PBS_JOBNAME=$PBS_JOBNAME SLURM_NTASKS=$SLURM_NTASKS SLURM_MEM_PER_NODE=$SLURM_MEM_PER_NODE"
sleep 30
EOS
# -o/-e given only as #PBS directives inside the script (no command-line -o/-e)
cat > pbs_directives.sh <<EOS
#!/bin/bash
#PBS -N directives
#PBS -o $HOME/pbs_directives_out.txt
#PBS -e $HOME/pbs_directives_err.txt
#PBS -l walltime=00:01:00
echo to-stdout; echo to-stderr >&2
EOS
cap pbs_qsub_sbatchline.txt "$P_/qsub" --sbatchline -o o.txt -e e.txt pbs_sample.sh
cap pbs_qsub_sbatchline_directives_only.txt "$P_/qsub" --sbatchline pbs_directives.sh
R=$("$P_/qsub" -o "$HOME/pbs_o.txt" -e "$HOME/pbs_e.txt" pbs_sample.sh); echo "$R" > "$OUT/pbs_qsub_stdout.txt"
echo "pbs_qsub_stdout.txt	rc=0	$P_/qsub -o ~/pbs_o.txt -e ~/pbs_e.txt pbs_sample.sh" >> "$OUT/INDEX.pbs.tsv"
Q=$("$P_/qsub" -N queued -o /dev/null -e /dev/null pbs_directives.sh)
D=$("$P_/qsub" pbs_directives.sh)
for _ in $(seq 50); do "$P_/qstat" "$R" | grep -q " R " && break; sleep 0.2; done
cap pbs_qstat_running_queued.txt "$P_/qstat" "$R" "$Q"
cap pbs_qstat_f_running.txt "$P_/qstat" -f "$R"
cap pbs_qstat_f_queued.txt "$P_/qstat" -f "$Q"
cap pbs_qstat_u_user.txt "$P_/qstat" -u "$(id -un)"
cap pbs_qstat_f_x_unsupported.txt "$P_/qstat" -f -x "$R"
cap pbs_qdel_running.txt "$P_/qdel" "$R"
OK=$("$P_/qsub" -N ok -o /dev/null -e /dev/null pbs_directives.sh)
F=$("$P_/qsub" -N failed -o /dev/null -e /dev/null fail.sh)
for _ in $(seq 100); do [ -z "$(squeue -h -j "$Q,$D,$OK,$F")" ] && break; sleep 0.2; done
sleep 1
cap pbs_qstat_finished.txt "$P_/qstat" "$R" "$Q" "$D" "$OK" "$F"
cap pbs_qstat_f_completed.txt "$P_/qstat" -f "$OK"
cap pbs_qstat_f_failed_exit3.txt "$P_/qstat" -f "$F"
cap pbs_qstat_f_cancelled.txt "$P_/qstat" -f "$R"
cap pbs_qstat_unknown.txt "$P_/qstat" 999999
cap pbs_qdel_unknown.txt "$P_/qdel" 999999
cap pbs_job_output_env.txt cat "$HOME/pbs_o.txt"
cap pbs_job_error_file.txt cat "$HOME/pbs_e.txt"
# '#PBS -o/-e' in the script are NOT honoured: the wrapper always passes its own -o/-e to sbatch
# (default <script>.o<jobid> / <script>.e<jobid> in the submit dir), which override the directives
cap pbs_directives_ignored_ls.txt ls -1 "$HOME/pbs_directives_out.txt" "$HOME/pbs_directives.sh.o$D" "$HOME/pbs_directives.sh.e$D"
cap pbs_directives_default_out_file.txt cat "$HOME/pbs_directives.sh.o$D"
