# Sourced by every infra script: strict mode that reports the failing command, and the helpers they share.
# A failure prints "FAILED: <script>:<line>: <command> (exit N)" to stderr, which up.sh shows from the log;
# installs print their full apt output to the log (never to /dev/null), so the cause is there too.
set -Eeuo pipefail
export DEBIAN_FRONTEND=noninteractive
trap 'rc=$?; echo "FAILED: ${BASH_SOURCE[0]##*/}:${LINENO}: ${BASH_COMMAND} (exit $rc)" >&2' ERR

installed() {  # pkg...: true if every package is installed
  local p
  for p in "$@"; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -qx 'install ok installed' || return 1; done
}

apt_install() {  # pkg...: install what is missing, with apt's output in the log
  installed "$@" && return 0
  echo "installing: $*"
  apt-get update -qq
  apt-get install -y -q --no-install-recommends "$@"
}

alive() {  # pidfile comm: true if that pid is a live (non-zombie) process named comm
  local p
  p=$(cat "$1" 2>/dev/null) || return 1
  ps -o stat=,comm= -p "$p" 2>/dev/null | grep -qE "^[^Z[:space:]]+[[:space:]]+$2\$"
}

waitfor() {  # tries command: retry every 0.2 s; the last try's output and status are the answer
  local _
  for _ in $(seq "$1"); do eval "$2" >/dev/null 2>&1 && return 0; sleep 0.2; done
  eval "$2"
}
