#!/usr/bin/env bash
# Capture real Slurm outputs for each job state into $1 (run as the test user; see samples.sh).
# One file per (command, state); INDEX.slurm.tsv lists file, exit code and the exact command.
set -u
OUT=$1; cd ~
cap() { local f=$1; shift; "$@" > "$OUT/$f" 2>&1; printf '%s\trc=%s\t%s\n' "$f" "$?" "$*" >> "$OUT/INDEX.slurm.tsv"; }
sub() { sbatch --parsable -o /dev/null "$@"; }
FMT=JobID,JobIDRaw,JobName,User,Partition,State,ExitCode,DerivedExitCode,Reason,Submit,Start,End,Elapsed,Timelimit,AllocCPUS,ReqMem,MaxRSS,NodeList
R=$(sub -J running -c 2 --mem=100M --time=00:05:00 --wrap 'sleep 60')
P=$(sub -J pending --wrap 'true')
H=$(sub -J held -H --wrap 'true')
A=$(sub -J arr --array=0-2 --wrap 'exit $SLURM_ARRAY_TASK_ID')
for _ in $(seq 50); do [ "$(squeue -h -j "$R" -o %T)" = RUNNING ] && break; sleep 0.2; done
sleep 1
cap slurm_squeue_default_mixed.txt squeue -u "$(id -un)"
cap slurm_squeue_custom_mixed.txt squeue -r -h -u "$(id -un)" -o '%i|%j|%T|%r|%M|%l|%C|%m|%N'
cap slurm_squeue_running.txt squeue -h -j "$R" -o '%i|%j|%T|%r'
cap slurm_squeue_pending.txt squeue -h -j "$P" -o '%i|%j|%T|%r'
cap slurm_scontrol_show_job_running.txt scontrol show job "$R"
cap slurm_scontrol_show_job_pending.txt scontrol show job "$P"
cap slurm_scontrol_show_job_held.txt scontrol show job "$H"
cap slurm_scontrol_show_job_oneliner_running.txt scontrol show job -o "$R"
cap slurm_sacct_parsable2_running.txt sacct --parsable2 -j "$R" -o "$FMT"
cap slurm_sacct_parsable2_pending.txt sacct --parsable2 -j "$P" -o "$FMT"
scancel "$R" "$H"
OK=$(sub -J ok --wrap 'echo hi')
F=$(sub -J failed --wrap 'exit 3')
C=$(sub -J cancelled --wrap 'sleep 100')
M=$(sub -J oom --mem=50M --wrap 'python3 -c "x = bytearray(400 * 2**20); import time; time.sleep(30)"')
T=$(sub -J timeout --time=1 --wrap 'sleep 300')
for _ in $(seq 100); do [ "$(squeue -h -j "$C" -o %T)" = RUNNING ] && break; sleep 0.2; done
sleep 2; scancel "$C"
echo "waiting ~70 s for TIMEOUT ($T)..." >&2
while [ -n "$(squeue -h -j "$T" 2>/dev/null)" ]; do sleep 2; done
sleep 3
ALL=$R,$P,$H,$A,$OK,$F,$C,$M,$T
cap slurm_squeue_t_all_finished.txt squeue -t all -r -h -j "$ALL" -o '%i|%j|%T|%r'
cap slurm_squeue_unknown_job.txt squeue -h -j 999999
for s in completed:$OK failed:$F cancelled:$C cancelled_running:$R cancelled_pending:$H timeout:$T out_of_memory:$M; do
  n=${s%%:*} j=${s#*:}
  cap "slurm_scontrol_show_job_$n.txt" scontrol show job "$j"
  cap "slurm_sacct_parsable2_$n.txt" sacct --parsable2 -j "$j" -o "$FMT"
done
cap slurm_scontrol_show_job_array.txt scontrol show job "$A"
cap slurm_sacct_parsable2_array.txt sacct --parsable2 -j "$A" -o "$FMT"
cap slurm_sacct_parsable2_noheader_all.txt sacct -n -X --parsable2 -j "$ALL" -o JobID,JobName,State,ExitCode
cap slurm_sacct_default_all.txt sacct -j "$ALL"
cap slurm_sacct_c_jobcomp_all.txt sacct -c --parsable2 -j "$ALL" -o JobID,JobName,State,ExitCode,Start,End
cap slurm_scontrol_show_job_unknown.txt scontrol show job 999999
cap slurm_scancel_finished.txt scancel "$OK"
