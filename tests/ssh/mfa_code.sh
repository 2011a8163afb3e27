#!/bin/sh
# mfa_command of the MFA tests: prints a TOTP code for the MFA site of tests/infra/ssh_sites.sh that
# pam_oath accepts, and appends the prompt to $1 so that tests count the prompts. pam_oath refuses a code
# whose time step is not after that of the last code used (the tests log in more often than once per
# 30 s step), so the code is for the current step or, if the last code used was for it or a later one,
# the step after that one (the site accepts codes up to 200 steps ahead).
# Needs: oathtool, read access to $SITES_DIR/mfa (root, like the infra scripts).
set -eu
dir=${SITES_DIR:-/tmp/clustrix-infra/ssh_sites}/mfa
printf '%s\n' "${CLUSTRIX_MFA_PROMPT:-}" >> "$1"
secret=$(cat "$dir/totp_secret")
now=$(( $(date +%s) / 30 ))
first=$(( now - 5 ))
last_code=$(awk '{print $6}' "$dir/users.oath")
step=$now
if [ -n "$last_code" ]; then
  # the step of the last code used: its line in the list of codes from step $first on
  line=$(oathtool --totp -w 210 -N "@$(( first * 30 ))" "$secret" | grep -nx "$last_code" | tail -n 1 | cut -d: -f1)
  if [ -n "$line" ] && [ $(( first + line - 1 )) -ge "$now" ]; then step=$(( first + line )); fi
fi
oathtool --totp -N "@$(( step * 30 ))" "$secret"
