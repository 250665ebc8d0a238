#!/usr/bin/env bash
# Installs the Debian packages named on the command line that are not installed yet, quietly,
# running apt-get update only when the install fails without it. Used by the peers' build
# scripts (peers/grpcgo/build.sh, peers/grpcio/build.sh, peers/grpcjava/build.sh); LABEL names
# who asks.
#   scripts/apt-install.sh LABEL PACKAGE...
set -euo pipefail
label=$1
shift
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
export DEBIAN_FRONTEND=noninteractive
echo "$label: installing ${missing[*]}" >&2
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
  { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; }
