#!/usr/bin/env bash
# Son of Grid Engine 8.1.9 (Debian 12 gridengine-*) single host on loopback, no systemd.
# Idempotent; run as root. Queue all.q (slots = nproc), PE smp, fast scheduling, accounting on.
# NOTE: gridengine-client Conflicts with slurm-wlm-torque (both ship /usr/bin/qsub): installing
# this REMOVES the slurm-wlm-torque package; use pbs_torque.sh (wrappers in /opt) for PBS.
# Environment: /usr/bin/q* are Debian's gridengine-wrapper (SGE_ROOT/SGE_CELL from the environment,
# else /etc/default/gridengine, else /var/lib/gridengine + default): callers need no SGE_* variables,
# in login, non-login and SSH shells alike. Only /usr/lib/gridengine/* called directly need them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
H=$(hostname -s)
getent hosts "$H" >/dev/null || echo "127.0.0.1 $H" >> /etc/hosts   # must resolve
SLOTS=${SGE_SLOTS:-$(nproc)}
COMMON=$SGE_ROOT/$SGE_CELL/common

if ! installed gridengine-master gridengine-exec gridengine-client; then
  for o in gridengine-common gridengine-client gridengine-master gridengine-exec; do
    printf '%s shared/gridengineconfig boolean true\n%s shared/gridenginecell string default\n%s shared/gridenginemaster string %s\n' "$o" "$o" "$o" "$H"
  done | debconf-set-selections
  apt_install gridengine-master gridengine-exec gridengine-client
fi

# 127.0.0.1 reverse-resolves to "localhost" but gethostname() is "$H": without this alias every
# client gets "access denied (client IP resolved to host name "localhost" ...)".
echo "$H localhost" > "$COMMON/host_aliases"
echo "$H" > "$COMMON/act_qmaster"   # qmaster rewrites it; keep it consistent
chown sgeadmin:sgeadmin "$COMMON/host_aliases" "$COMMON/act_qmaster"
install -d -o sgeadmin -g sgeadmin /var/run/gridengine

QPID=/var/spool/gridengine/qmaster/qmaster.pid
alive "$QPID" sge_qmaster || /usr/sbin/sge_qmaster
for _ in $(seq 100); do qconf -sh >/dev/null 2>&1 && break; sleep 0.2; done
qconf -sh >/dev/null

T=$(mktemp -d)
# global config: accounting flushed immediately (qacct), unix_behavior (#! honoured), root may submit
qconf -sconf global | sed -e '/^#/d' \
  -e 's/^shell_start_mode .*/shell_start_mode unix_behavior/' \
  -e 's/^min_uid .*/min_uid 0/' -e 's/^min_gid .*/min_gid 0/' \
  -e 's/^load_report_time .*/load_report_time 00:00:05/' \
  -e '/^reporting_params/,/sharelog/c\reporting_params accounting=true reporting=false flush_time=00:00:01 joblog=false sharelog=00:00:00 accounting_flush_time=00:00:00' \
  > "$T/global"
qconf -Mconf "$T/global" >/dev/null
# scheduler: run every second instead of every 15 s
qconf -ssconf | sed -e 's/^schedule_interval .*/schedule_interval 0:0:1/' \
  -e 's/^flush_submit_sec .*/flush_submit_sec 1/' -e 's/^flush_finish_sec .*/flush_finish_sec 1/' \
  -e 's/^job_load_adjustments .*/job_load_adjustments NONE/' \
  -e 's/^load_adjustment_decay_time .*/load_adjustment_decay_time 0:0:0/' > "$T/sched"
qconf -Msconf "$T/sched" >/dev/null

qconf -ss 2>/dev/null | grep -qx "$H" || qconf -as "$H" >/dev/null
cat > "$T/pe" <<EOF
pe_name            smp
slots              999
user_lists         NONE
xuser_lists        NONE
start_proc_args    NONE
stop_proc_args     NONE
allocation_rule    \$pe_slots
control_slaves     FALSE
job_is_first_task  TRUE
urgency_slots      min
accounting_summary FALSE
qsort_args         NONE
EOF
if qconf -sp smp >/dev/null 2>&1; then qconf -Mp "$T/pe" >/dev/null; else qconf -Ap "$T/pe" >/dev/null; fi
cat > "$T/host" <<EOF
hostname              $H
load_scaling          NONE
complex_values        NONE
user_lists            NONE
xuser_lists           NONE
projects              NONE
xprojects             NONE
usage_scaling         NONE
report_variables      NONE
EOF
if qconf -se "$H" >/dev/null 2>&1; then qconf -Me "$T/host" >/dev/null; else qconf -Ae "$T/host" >/dev/null; fi
printf 'group_name @allhosts\nhostlist %s\n' "$H" > "$T/hgrp"
if qconf -shgrp @allhosts >/dev/null 2>&1; then qconf -Mhgrp "$T/hgrp" >/dev/null; else qconf -Ahgrp "$T/hgrp" >/dev/null; fi
cat > "$T/q" <<EOF
qname                 all.q
hostlist              @allhosts
seq_no                0
load_thresholds       NONE
suspend_thresholds    NONE
nsuspend              1
suspend_interval      00:05:00
priority              0
min_cpu_interval      00:05:00
processors            UNDEFINED
qtype                 BATCH INTERACTIVE
ckpt_list             NONE
pe_list               smp
rerun                 FALSE
slots                 $SLOTS
tmpdir                /tmp
shell                 /bin/bash
prolog                NONE
epilog                NONE
shell_start_mode      unix_behavior
starter_method        NONE
suspend_method        NONE
resume_method         NONE
terminate_method      NONE
notify                00:00:60
owner_list            NONE
user_lists            NONE
xuser_lists           NONE
subordinate_list      NONE
complex_values        NONE
projects              NONE
xprojects             NONE
calendar              NONE
initial_state         default
s_rt                  INFINITY
h_rt                  INFINITY
s_cpu                 INFINITY
h_cpu                 INFINITY
s_fsize               INFINITY
h_fsize               INFINITY
s_data                INFINITY
h_data                INFINITY
s_stack               INFINITY
h_stack               INFINITY
s_core                INFINITY
h_core                INFINITY
s_rss                 INFINITY
h_rss                 INFINITY
s_vmem                INFINITY
h_vmem                INFINITY
EOF
if qconf -sq all.q >/dev/null 2>&1; then qconf -Mq "$T/q" >/dev/null; else qconf -Aq "$T/q" >/dev/null; fi
rm -rf "$T"

# execd spools under execd/localhost (its IP-resolved name), not execd/$H
execd_up() { for p in /var/spool/gridengine/execd/*/execd.pid; do alive "$p" sge_execd && return 0; done; return 1; }
execd_up || /usr/sbin/sge_execd
# wait until the queue instance has load values (state not 'u'/'a')
for _ in $(seq 150); do
  st=$(qstat -f -q "all.q@$H" 2>/dev/null | awk -v q="all.q@$H" '$1==q{print $6}')
  [ -n "$(qstat -f -q "all.q@$H" 2>/dev/null | awk -v q="all.q@$H" '$1==q')" ] && [ -z "$st" ] && break
  sleep 0.2
done
qstat -f
echo "SGE ready: SGE_ROOT=$SGE_ROOT SGE_CELL=$SGE_CELL host=$H slots=$SLOTS qmaster pid $(cat $QPID)"
