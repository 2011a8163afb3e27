#!/usr/bin/env bash
# Capture real Son of Grid Engine outputs (qstat, qstat -xml, qacct -j) per job state into $1
# (run as the test user; see samples.sh). INDEX.sge.tsv lists file, exit code and exact command.
set -u
OUT=$1; cd ~
cap() { local f=$1; shift; "$@" > "$OUT/$f" 2>&1; printf '%s\trc=%s\t%s\n' "$f" "$?" "$*" >> "$OUT/INDEX.sge.tsv"; }
sub() { qsub -terse -o /dev/null -e /dev/null "$@"; }
U=$(id -un)
cap sge_qstat_xml_empty.txt qstat -xml -u "$U"
# unwritable -o path: the job goes to error state Eqw when the execd tries to start it
E=$(qsub -terse -N errstate -o /nonexistent/x.out -b y true)
for _ in $(seq 60); do qstat -u "$U" | awk -v j="$E" '$1==j{print $5}' | grep -q E && break; sleep 0.5; done
R=$(sub -N running -pe smp 2 -b y sleep 40)
P=$(sub -N pending -b y true)
H=$(sub -N held -h -b y true)
A=$(sub -N arr -t 1-3 -b y 'exit $((SGE_TASK_ID-1))')
sleep 5
cap sge_qstat_mixed.txt qstat -u "$U"
cap sge_qstat_xml_mixed.txt qstat -xml -u "$U"
cap sge_qstat_j_pending.txt qstat -j "$P"
cap sge_qstat_j_xml_pending.txt qstat -xml -j "$P"
cap sge_qstat_j_running.txt qstat -j "$R"
cap sge_qstat_j_error_state.txt qstat -j "$E"
cap sge_qdel_running_held_error.txt qdel "$R" "$H" "$E"
OK=$(sub -N ok -b y echo hi)
F=$(sub -N failed -b y 'exit 3')
C=$(sub -N cancelled -b y sleep 100)
T=$(sub -N h_rt_exceeded -l h_rt=0:0:5 -b y sleep 60)
K=$(sub -N killed_by_signal -b y 'kill -9 $$')
for _ in $(seq 60); do qstat -u "$U" | awk -v j="$C" '$1==j{print $5}' | grep -qx r && break; sleep 0.5; done
sleep 1
cap sge_qstat_xml_running.txt qstat -xml -u "$U"
cap sge_qdel_cancelled.txt qdel "$C"
sleep 10
while [ -n "$(qstat -u "$U" | tail -n +3)" ]; do sleep 1; done
sleep 2
cap sge_qstat_j_finished.txt qstat -j "$OK"
cap sge_qstat_s_z_finished.txt qstat -s z -u "$U"
cap sge_qstat_xml_after_all_finished.txt qstat -xml -u "$U"
for s in completed:$OK failed_exit3:$F cancelled_qdel_running:$C h_rt_exceeded:$T killed_by_signal:$K cancelled_qdel_while_running_pe:$R pending_then_completed:$P; do
  cap "sge_qacct_j_${s%%:*}.txt" qacct -j "${s#*:}"
done
cap sge_qacct_j_array.txt qacct -j "${A%%.*}"
cap sge_qacct_j_never_ran_qdel_held.txt qacct -j "$H"
cap sge_qacct_j_error_state_qdel.txt qacct -j "$E"
cap sge_qacct_j_unknown.txt qacct -j 999999
