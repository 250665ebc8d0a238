# shellcheck shell=bash
# Sourced by the test stages that use an npm-packaged peer (grpc-js, buf).
# install_npm_peer PEER_DIR DEST: installs Node.js/npm from Debian if missing, then the exact
# versions PEER_DIR/package-lock.json pins into DEST (never into the source tree).
# --ignore-scripts: no peer needs its install scripts (protobufjs only prints a notice; buf's
# bin/buf finds its platform binary without the postinstall link).
install_npm_peer() {
  local peer=$1 dest=$2
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null 2>&1 ||
      { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends nodejs npm; }
  fi
  mkdir -p "$dest"
  cp "$peer/package.json" "$peer/package-lock.json" "$dest/"
  if ! (cd "$dest" && timeout 300 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error); then
    echo "'npm ci' of $peer/package-lock.json failed (is the npm registry reachable?)" >&2
    return 1
  fi
}
