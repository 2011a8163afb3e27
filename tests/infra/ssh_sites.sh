#!/usr/bin/env bash
# Extra OpenSSH servers on loopback that look like real sites, next to ssh.sh's plain one:
#   cert site   127.0.0.1:${SSH_CERT_PORT:-2223}  host key certified by a host CA (ssh-keygen -s -h)
#   MFA site    127.0.0.1:${SSH_MFA_PORT:-2224}   AuthenticationMethods publickey,keyboard-interactive: after
#               the key, a one-time code checked by PAM's pam_oath (TOTP; the test user's secret in mfa/totp_secret)
# Same test user and client keys as ssh.sh (runs it first when its outputs are missing).
# Idempotent; runs as root; no systemd. Outputs in $SITES_DIR:
#   host_ca(.pub)             the host certificate authority
#   cert_known_hosts          "@cert-authority [127.0.0.1]:PORT <CA key>": trusts the cert site through its CA
#   cert/ssh_host_ed25519_key(-cert.pub, .pub), cert/sshd.pid, cert/sshd.log
#   mfa_known_hosts           the MFA site's host key
#   mfa/totp_secret           hex TOTP secret: `oathtool --totp $(cat mfa/totp_secret)` prints the current code
#   mfa/users.oath, mfa/sshd.pid, mfa/sshd.log, and the PAM service /etc/pam.d/sshd-mfa: sshd names its PAM
#   service after its program name, so this site's sshd runs as a link named sshd-mfa (other sshds untouched)
# Each site's DIR/program names the daemon's program, for stop_all.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SSH_DIR=${SSH_DIR:-/tmp/clustrix-infra/ssh}
SSH_USER=${SSH_USER:-clustrix}
SITES_DIR=${SITES_DIR:-/tmp/clustrix-infra/ssh_sites}
SSH_CERT_PORT=${SSH_CERT_PORT:-2223}
SSH_MFA_PORT=${SSH_MFA_PORT:-2224}

apt_install openssh-server libpam-oath oathtool
[ -f "$SSH_DIR/id_ed25519" ] && id "$SSH_USER" >/dev/null 2>&1 || bash "$HERE/ssh.sh"
install -d -m 0755 "$SITES_DIR" /run/sshd

start_sshd() {  # name port [program]: start (or reload) the sshd of $SITES_DIR/name/sshd_config, wait for its port
  local dir="$SITES_DIR/$1" program=${3:-/usr/sbin/sshd}
  "$program" -t -f "$dir/sshd_config"
  basename "$program" > "$dir/program"
  if alive "$dir/sshd.pid" "$(basename "$program")"; then
    kill -HUP "$(cat "$dir/sshd.pid")"
  else
    "$program" -f "$dir/sshd_config" -E "$dir/sshd.log"
  fi
  waitfor 50 "(exec 3<>/dev/tcp/127.0.0.1/$2)"
}

common_config() {  # port dir: the lines every site shares (key-only login as the test user)
  cat <<EOF
Port $1
ListenAddress 127.0.0.1
PidFile $2/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
PermitRootLogin no
AllowUsers $SSH_USER
Subsystem sftp internal-sftp
MaxStartups 100:30:200
MaxSessions 50
LogLevel INFO
EOF
}

# --- cert site: a host key certified by the host CA -----------------------------------------------
[ -f "$SITES_DIR/host_ca" ] || ssh-keygen -q -t ed25519 -N '' -C clustrix-test-host-ca -f "$SITES_DIR/host_ca"
cert="$SITES_DIR/cert"
install -d -m 0755 "$cert"
[ -f "$cert/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$cert/ssh_host_ed25519_key"
if [ ! -f "$cert/ssh_host_ed25519_key-cert.pub" ] || [ "$cert/ssh_host_ed25519_key.pub" -nt "$cert/ssh_host_ed25519_key-cert.pub" ]; then
  ssh-keygen -q -s "$SITES_DIR/host_ca" -I clustrix-cert-site -h -n 127.0.0.1,localhost "$cert/ssh_host_ed25519_key.pub"
fi
{
  common_config "$SSH_CERT_PORT" "$cert"
  echo "HostKey $cert/ssh_host_ed25519_key"
  echo "HostCertificate $cert/ssh_host_ed25519_key-cert.pub"
  echo "PubkeyAuthentication yes"
  echo "KbdInteractiveAuthentication no"
  echo "UsePAM yes"
} > "$cert/sshd_config"
start_sshd cert "$SSH_CERT_PORT"
echo "@cert-authority [127.0.0.1]:$SSH_CERT_PORT $(cut -d' ' -f1,2 "$SITES_DIR/host_ca.pub")" > "$SITES_DIR/cert_known_hosts"
# OpenSSH itself must accept the site through the CA alone (no host key in known_hosts)
ssh -p "$SSH_CERT_PORT" -i "$SSH_DIR/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
  -o UserKnownHostsFile="$SITES_DIR/cert_known_hosts" -o GlobalKnownHostsFile=/dev/null \
  -o StrictHostKeyChecking=yes "$SSH_USER@127.0.0.1" true

# --- MFA site: the key, then a TOTP code through PAM (pam_oath) -----------------------------------
mfa="$SITES_DIR/mfa"
install -d -m 0700 "$mfa"
[ -f "$mfa/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$mfa/ssh_host_ed25519_key"
[ -s "$mfa/totp_secret" ] || (umask 077 && od -An -tx1 -N20 /dev/urandom | tr -d ' \n' > "$mfa/totp_secret")
# pam_oath rewrites users.oath (the last code used: a code is never accepted twice); keep it while it matches
grep -q "$(cat "$mfa/totp_secret")" "$mfa/users.oath" 2>/dev/null \
  || (umask 077 && echo "HOTP/T30 $SSH_USER - $(cat "$mfa/totp_secret")" > "$mfa/users.oath")
cat > /etc/pam.d/sshd-mfa <<EOF
# clustrix tests (tests/infra/ssh_sites.sh): the MFA site's one-time code
auth     required pam_oath.so usersfile=$mfa/users.oath window=200 digits=6
@include common-account
@include common-session-noninteractive
EOF
ln -sfn /usr/sbin/sshd "$mfa/sshd-mfa"
{
  common_config "$SSH_MFA_PORT" "$mfa"
  echo "HostKey $mfa/ssh_host_ed25519_key"
  echo "PubkeyAuthentication yes"
  echo "KbdInteractiveAuthentication yes"
  echo "AuthenticationMethods publickey,keyboard-interactive"
  echo "UsePAM yes"
} > "$mfa/sshd_config"
start_sshd mfa "$SSH_MFA_PORT" "$mfa/sshd-mfa"
echo "[127.0.0.1]:$SSH_MFA_PORT $(cut -d' ' -f1,2 "$mfa/ssh_host_ed25519_key.pub")" > "$SITES_DIR/mfa_known_hosts"
# the site must refuse a key alone (tests/ssh/test_mfa.py logs in with key + code)
if ssh -p "$SSH_MFA_PORT" -i "$SSH_DIR/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
  -o UserKnownHostsFile="$SITES_DIR/mfa_known_hosts" -o StrictHostKeyChecking=yes "$SSH_USER@127.0.0.1" true 2>/dev/null; then
  echo "the MFA site let a key in without a code" >&2
  exit 1
fi

echo "ssh_sites ready: cert site 127.0.0.1:$SSH_CERT_PORT (host CA $SITES_DIR/host_ca.pub), MFA site 127.0.0.1:$SSH_MFA_PORT (code: oathtool --totp \$(cat $mfa/totp_secret))"
