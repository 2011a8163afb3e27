#!/usr/bin/env bash
# Undo every infra script completely, back to a machine where none of it ever ran: daemons stopped,
# Debian packages purged with their configuration and state directories, test users removed, the
# scripts' work and log directories removed. `.ci/run` starts from here, so every CI run proves the
# fresh-machine path of up.sh. Idempotent; run as root. Prints what is left (nothing, when it worked).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SSH_DIR=${SSH_DIR:-/tmp/clustrix-infra/ssh}
PKGS="openssh-server python3-venv slurmctld slurmd slurm-client slurm-wlm-basic-plugins slurmdbd munge libmunge2
  mariadb-server mariadb-client mariadb-common galera-4 libslurm-perl libslurmdb-perl libswitch-perl
  gridengine-common gridengine-client gridengine-master gridengine-exec libpam-oath oathtool liboath0"

bash "$(dirname "${BASH_SOURCE[0]}")/stop_all.sh"
# only what is installed (apt-get purge fails on a name it does not know), plus the patterns' leftovers
# shellcheck disable=SC2086
present=$( { dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' $PKGS 'mariadb-*' 'gridengine-*' 2>/dev/null || true; } \
  | awk '$2 != "un" {print $1}' | sort -u)
if [ -n "$present" ]; then
  # shellcheck disable=SC2086
  apt-get purge -y -q $present
fi
left=$(dpkg -l | awk '/^(rc|iU|iF|ic|iH)/{print $2}')
# shellcheck disable=SC2086
[ -z "$left" ] || dpkg --purge $left
apt-get autoremove --purge -y -q
rm -f /etc/pam.d/sshd-mfa  # ssh_sites.sh's PAM service
rm -rf /etc/slurm /var/lib/slurm /var/log/slurm /run/slurm* /etc/munge /var/lib/munge /var/log/munge /run/munge \
  /etc/mysql /var/lib/mysql /run/mysqld /var/log/mariadbd.log /var/lib/gridengine /var/spool/gridengine \
  /etc/default/gridengine /run/gridengine /var/run/gridengine /opt/slurm-torque "$SSH_DIR" "${INFRA_LOG_DIR:-/tmp/clustrix-infra/logs}" /tmp/clustrix-infra
# users: the test user, then the daemons' system users. Whatever still runs as one of them (a job,
# a session, a daemon started by something other than these scripts) is ended first: userdel refuses
# a user with live processes.
for u in clustrix sgeadmin mysql slurm munge; do
  if id "$u" >/dev/null 2>&1; then
    pkill -KILL -u "$u" || true
    for _ in $(seq 50); do pgrep -u "$u" >/dev/null || break; sleep 0.1; done
    userdel "$u"
  fi
  ! getent group "$u" >/dev/null || groupdel "$u"
done
rm -rf /home/clustrix
[ ! -f /root/.ssh/authorized_keys ] || sed -i '/clustrix-test/d' /root/.ssh/authorized_keys
still=$(dpkg -l | awk '$1 ~ /^[a-z][a-z]$/ && $1 != "un" {print $2}' | grep -E 'slurm|munge|gridengine|mariadb|openssh-server|python3-venv|oath' || true)
[ -z "$still" ] || { echo "purge_all: still installed: $still" >&2; exit 1; }
echo "all purged"
