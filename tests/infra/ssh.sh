#!/usr/bin/env bash
# OpenSSH server on 127.0.0.1:${SSH_PORT}, key-only auth, for a test user and root.
# Idempotent; runs as root; no systemd needed (sshd is started directly).
# Outputs (in $SSH_DIR): id_ed25519 (+ id_rsa, PEM) client keys, known_hosts, ssh_config, sshd.pid
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SSH_PORT=${SSH_PORT:-2222}
SSH_USER=${SSH_USER:-clustrix}
SSH_DIR=${SSH_DIR:-/tmp/clustrix-infra/ssh}

# openssh-server: sshd; python3-venv: the SSH backend builds a venv remotely with Debian's
# /usr/bin/python3 (root's `python3` may be a pyenv shim, the test user's is /usr/bin/python3)
apt_install openssh-server python3-venv

install -d -m 0755 "$SSH_DIR" /run/sshd
# server host key + client keys (generated once)
[ -f "$SSH_DIR/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$SSH_DIR/ssh_host_ed25519_key"
[ -f "$SSH_DIR/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C clustrix-test -f "$SSH_DIR/id_ed25519"
[ -f "$SSH_DIR/id_rsa" ] || ssh-keygen -q -t rsa -b 3072 -m PEM -N '' -C clustrix-test-rsa -f "$SSH_DIR/id_rsa"

# test user (password field '*' = no password login, but not "locked")
id "$SSH_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$SSH_USER"
usermod -p '*' "$SSH_USER"
authorize() {  # $1=user
  local home; home=$(getent passwd "$1" | cut -d: -f6)
  install -d -m 0700 -o "$1" -g "$(id -gn "$1")" "$home/.ssh"
  touch "$home/.ssh/authorized_keys"
  for k in "$SSH_DIR/id_ed25519.pub" "$SSH_DIR/id_rsa.pub"; do
    grep -qxF "$(cat "$k")" "$home/.ssh/authorized_keys" || cat "$k" >> "$home/.ssh/authorized_keys"
  done
  chown "$1:$(id -gn "$1")" "$home/.ssh/authorized_keys"; chmod 0600 "$home/.ssh/authorized_keys"
}
authorize "$SSH_USER"
authorize root

cat > "$SSH_DIR/sshd_config" <<EOF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $SSH_DIR/ssh_host_ed25519_key
PidFile $SSH_DIR/sshd.pid
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers $SSH_USER root
UsePAM yes
Subsystem sftp internal-sftp
MaxStartups 100:30:200
MaxSessions 50
LogLevel INFO
EOF
/usr/sbin/sshd -t -f "$SSH_DIR/sshd_config"

if alive "$SSH_DIR/sshd.pid" sshd; then
  kill -HUP "$(cat "$SSH_DIR/sshd.pid")"   # reload config
else
  /usr/sbin/sshd -f "$SSH_DIR/sshd_config" -E "$SSH_DIR/sshd.log"
fi
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$SSH_PORT) 2>/dev/null && break; sleep 0.1; done

echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$SSH_DIR/ssh_host_ed25519_key.pub")" > "$SSH_DIR/known_hosts"
cat > "$SSH_DIR/ssh_config" <<EOF
Host clustrix-test
  HostName 127.0.0.1
  Port $SSH_PORT
  User $SSH_USER
  IdentityFile $SSH_DIR/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $SSH_DIR/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
EOF
SSH_OPTS=(-p "$SSH_PORT" -i "$SSH_DIR/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile="$SSH_DIR/known_hosts" -o StrictHostKeyChecking=yes)
ssh "${SSH_OPTS[@]}" "$SSH_USER@127.0.0.1" true
ssh "${SSH_OPTS[@]}" root@127.0.0.1 true
# the test user's non-login shell gets PATH=/usr/local/bin:/usr/bin:/bin:...: python3 = /usr/bin/python3
ssh "${SSH_OPTS[@]}" "$SSH_USER@127.0.0.1" 'python3 -c "import venv, ensurepip"' || { echo "python3 venv/ensurepip not usable by $SSH_USER"; exit 1; }
echo "sshd ready on 127.0.0.1:$SSH_PORT (pid $(cat "$SSH_DIR/sshd.pid")); key $SSH_DIR/id_ed25519; users $SSH_USER, root"
