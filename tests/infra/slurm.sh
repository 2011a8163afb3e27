#!/usr/bin/env bash
# Single-node Slurm 22.05 (Debian 12) + munge on loopback, no systemd. Idempotent; run as root.
# Node = this host's short name (NodeAddr 127.0.0.1), partition "debug" (default), CPUs = nproc.
# WITH_SLURMDBD=1 (default): MariaDB + slurmdbd so that plain `sacct` works.
# WITH_SLURMDBD=0: no accounting DB; finished jobs via `scontrol show job` (MinJobAge s) or `sacct -c`.
# Switch either way by re-running with the other value: slurm.conf changes -> slurmctld + slurmd are
# restarted (queued/running jobs survive: state is saved in StateSaveLocation, slurmstepd keeps running).
# OFF stops slurmdbd (so plain `sacct` fails like on a cluster without accounting) but leaves MariaDB
# running, so that switching back ON is quick. AccountingStorageEnforce is unset: any local user
# (e.g. clustrix) can submit without a sacctmgr user/account association.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
WITH_SLURMDBD=${WITH_SLURMDBD:-1}
NODE=$(hostname -s)
getent hosts "$NODE" >/dev/null || echo "127.0.0.1 $NODE" >> /etc/hosts   # must resolve
CPUS=${SLURM_CPUS:-$(nproc)}
MEM_MB=$(( $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) * 3 / 4 ))   # below actual
DBPASS=${SLURM_DB_PASS:-slurmdbpass}

pkgs="slurmctld slurmd slurm-client munge"   # PBS/Torque wrappers: see pbs_torque.sh
[ "$WITH_SLURMDBD" = 1 ] && pkgs="$pkgs slurmdbd mariadb-server"
apt_install $pkgs

# ---- munge (postinst already created /etc/munge/munge.key) ----
[ -s /etc/munge/munge.key ] || /usr/sbin/mungekey --create --force
chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
munge -n 2>/dev/null | unmunge >/dev/null 2>&1 || runuser -u munge -- /usr/sbin/munged
waitfor 50 'munge -n | unmunge'

install -d -o slurm -g slurm -m 0755 /var/log/slurm /var/lib/slurm/slurmctld
install -d -m 0755 /var/lib/slurm/slurmd

# ---- MariaDB + slurmdbd ----
if [ "$WITH_SLURMDBD" = 1 ]; then
  install -d -o mysql -g mysql /run/mysqld
  if ! mariadb -e 'select 1' >/dev/null 2>&1; then
    # InnoDB sizes Slurm's accounting docs recommend (slurmdbd logs "Database settings not recommended
    # values" otherwise); the default 50 s lock wait can stall slurmdbd's rollup on a freshly created DB
    setsid /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 --pid-file=/run/mysqld/mysqld.pid \
      --innodb-buffer-pool-size=256M --innodb-lock-wait-timeout=900 \
      >>/var/log/mariadbd.log 2>&1 < /dev/null &
    waitfor 150 "mariadb -e 'select 1'"
  fi
  mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db; CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DBPASS'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
  cat > /etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=slurm
PidFile=/run/slurmdbd.pid
LogFile=/var/log/slurm/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=$DBPASS
EOF
  chown slurm:slurm /etc/slurm/slurmdbd.conf; chmod 0600 /etc/slurm/slurmdbd.conf
  alive /run/slurmdbd.pid slurmdbd || /usr/sbin/slurmdbd
  ACCT="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost"
else
  ACCT="AccountingStorageType=accounting_storage/none"
fi

conf_sum() { { cat /etc/slurm/slurm.conf /etc/slurm/cgroup.conf 2>/dev/null || true; } | md5sum; }   # files may not exist yet
old=$(conf_sum)   # restart the daemons below only if slurm.conf/cgroup.conf changed

# ---- memory enforcement ----
# This machine kind (Firecracker VM, no systemd) mounts cgroup v1 controllers under /sys/fs/cgroup
# (tmpfs + memory, freezer, ...). With them, proctrack/cgroup + task/cgroup ConstrainRAMSpace makes a job
# exceeding --mem end as JobState=OUT_OF_MEMORY (Reason=OutOfMemory, ExitCode 0:125), as on real clusters.
# Without cgroup v1 (SLURM_CGROUP=0 or not mounted) fall back to linuxproc + OverMemoryKill: the step
# is killed by the accounting poller, but the job then ends FAILED (Reason=JobLaunchFailure, ExitCode
# 0:9, batch step "CANCELLED by 0"), NOT OUT_OF_MEMORY.
SLURM_CGROUP=${SLURM_CGROUP:-auto}
if [ "$SLURM_CGROUP" = auto ]; then
  SLURM_CGROUP=0
  [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = tmpfs ] && mountpoint -q /sys/fs/cgroup/memory \
    && mountpoint -q /sys/fs/cgroup/freezer && SLURM_CGROUP=1
fi
if [ "$SLURM_CGROUP" = 1 ]; then
  cat > /etc/slurm/cgroup.conf <<EOF
CgroupPlugin=cgroup/v1
CgroupAutomount=no
ConstrainCores=no
ConstrainRAMSpace=yes
ConstrainSwapSpace=no
EOF
  TRACK="ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup"
else
  rm -f /etc/slurm/cgroup.conf
  TRACK="ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherParams=OverMemoryKill"
fi

# ---- slurm.conf ----
cat > /etc/slurm/slurm.conf <<EOF
ClusterName=clustrix
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
$TRACK
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
# default batch_sched_delay=3 makes every sbatch wait ~3 s before it is scheduled
SchedulerParameters=batch_sched_delay=0,sched_min_interval=100000
# reject impossible requests (e.g. more CPUs than the node has) at submit time instead of PENDING forever
EnforcePartLimits=ALL
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# without a default, a job with no --mem takes the whole node's memory (no concurrency); 1 GB/CPU
# keeps CPUs (not memory) the limiting resource and leaves a Python job room (see OverMemoryKill)
DefMemPerCPU=${SLURM_DEF_MEM_PER_CPU:-1024}
$ACCT
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
# every finished job is also appended as one 'key=value ...' line here (read with: sacct -c)
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
# finished jobs stay visible to scontrol/squeue -t all for this many seconds
MinJobAge=${SLURM_MIN_JOB_AGE:-600}
KillWait=5
OverTimeLimit=0
InactiveLimit=0
SlurmdTimeout=300
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
# Preemption (issue 16's tests): a job in "high" (PriorityTier=2) that needs the node's CPUs preempts
# jobs running in "low" (PriorityTier=1): they get SIGTERM (or their --signal), GraceTime seconds to
# stop, then SIGKILL, and are requeued (or, with --no-requeue, end PREEMPTED). "debug", the default
# every other test uses, has PreemptMode=OFF: nothing ever preempts its jobs.
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP PreemptMode=OFF
PartitionName=low Nodes=ALL MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=10
PartitionName=high Nodes=ALL MaxTime=INFINITE State=UP PriorityTier=2 PreemptMode=OFF
EOF

if [ "$WITH_SLURMDBD" = 1 ]; then
  waitfor 150 'sacctmgr -n show cluster'
  sacctmgr -n -P show cluster format=cluster | grep -qx clustrix || sacctmgr -i add cluster clustrix >/dev/null
fi

# ---- slurmctld / slurmd (daemonize themselves); restart if the config changed ----
stop() { alive "$1" "$2" && { kill "$(cat "$1")"; while alive "$1" "$2"; do sleep 0.1; done; } || true; }
[ "$WITH_SLURMDBD" = 1 ] || stop /run/slurmdbd.pid slurmdbd
if [ "$old" != "$(conf_sum)" ]; then stop /run/slurmd.pid slurmd; stop /run/slurmctld.pid slurmctld; fi
alive /run/slurmctld.pid slurmctld || /usr/sbin/slurmctld
waitfor 100 'scontrol ping | grep -q UP'
alive /run/slurmd.pid slurmd || /usr/sbin/slurmd
for _ in $(seq 100); do
  case "$(sinfo -h -n "$NODE" -o %T 2>/dev/null)" in
    idle*|mixed*|allocated*) break;;
    down*|drain*) scontrol update nodename="$NODE" state=resume 2>/dev/null || true;;
  esac
  sleep 0.2
done
# sacct -c opens the jobcomp file O_WRONLY|O_APPEND even to read it, so non-root users need write access;
# slurmctld fchmod()s it back to 0644 at every (re)start/reconfigure, hence done here, after the start
chmod 0666 /var/log/slurm/jobcomp.log 2>/dev/null || true
sinfo
[ -n "$(sinfo -h -t idle,mix,alloc -n "$NODE")" ] || { echo "slurm node not up"; tail -20 /var/log/slurm/*.log; exit 1; }
want=accounting_storage/none; [ "$WITH_SLURMDBD" = 1 ] && want=accounting_storage/slurmdbd
# (not `scontrol ... | grep -q`: with pipefail, grep -q exiting early makes the pipeline fail by SIGPIPE)
cfg=$(scontrol show config)
grep -qE "^AccountingStorageType += $want\$" <<<"$cfg" || { echo "slurmctld does not run with $want"; grep AccountingStorage <<<"$cfg"; exit 1; }
if [ "$WITH_SLURMDBD" = 1 ]; then waitfor 100 'sacct -n -X -S now-1minute >/dev/null' || { echo "sacct does not work"; tail -20 /var/log/slurm/slurmdbd.log; exit 1; }; fi
echo "slurm ready: node $NODE cpus=$CPUS mem=${MEM_MB}M slurmdbd=$WITH_SLURMDBD cgroup=$SLURM_CGROUP; pids ctld=$(cat /run/slurmctld.pid) d=$(cat /run/slurmd.pid) munged=$(cat /run/munge/munged.pid 2>/dev/null)"
