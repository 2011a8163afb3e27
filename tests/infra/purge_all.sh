#!/usr/bin/env bash
# Undo ssh.sh / slurm.sh / pbs_torque.sh / sge.sh completely (for re-testing the recipes from scratch).
# Leaves python3-venv installed (other things use it). Never needed in normal test runs.
set -u
export DEBIAN_FRONTEND=noninteractive
bash "$(dirname "$0")/stop_all.sh"
apt-get purge -y -qq openssh-server slurmctld slurmd slurm-client slurm-wlm-basic-plugins slurmdbd munge libmunge2 \
  'mariadb-*' galera-4 libslurm-perl libslurmdb-perl libswitch-perl 'gridengine-*' >/dev/null 2>&1
left=$(dpkg -l | awk '/^(rc|iU|iF|ic|iH)/{print $2}'); [ -n "$left" ] && dpkg --purge $left >/dev/null 2>&1
apt-get autoremove --purge -y -qq >/dev/null 2>&1
rm -rf /etc/slurm /var/lib/slurm /var/log/slurm /etc/munge /var/lib/munge /var/log/munge /etc/mysql /var/lib/mysql \
  /var/log/mariadbd.log /var/lib/gridengine /var/spool/gridengine /etc/default/gridengine /run/gridengine \
  /opt/slurm-torque "${SSH_DIR:-/tmp/clustrix-infra/ssh}" /tmp/clustrix-infra/verify /tmp/clustrix-infra/samples
for u in clustrix; do id "$u" >/dev/null 2>&1 && userdel -r "$u" 2>/dev/null; done
for u in sgeadmin mysql slurm munge; do id "$u" >/dev/null 2>&1 && { userdel "$u"; groupdel "$u"; } 2>/dev/null; done
[ -f /root/.ssh/authorized_keys ] && sed -i '/clustrix-test/d' /root/.ssh/authorized_keys
dpkg -l | grep -E '^ii' | grep -E 'slurm|munge|gridengine|mariadb|openssh-server' || echo "all purged"
