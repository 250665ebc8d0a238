#!/usr/bin/env bash
# Interop with grpc-js (@grpc/grpc-js on Node.js), a gRPC implementation that shares no code
# with h2rpc or grpc++: its interop client against the h2rpc server, the h2rpc client against its
# interop server, and grpc-js against itself as the control, over plaintext and TLS.
# Installs Node.js from Debian if the machine has none, and grpc-js at the versions
# peers/grpcjs/package-lock.json pins into BUILD_DIR/grpcjs (never into the source tree).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null 2>&1 ||
    { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends nodejs npm; }
fi
dest="$build/grpcjs"
mkdir -p "$dest"
cp peers/grpcjs/package.json peers/grpcjs/package-lock.json "$dest/"
# --ignore-scripts: protobufjs' postinstall only prints a notice; nothing here needs building.
if ! (cd "$dest" && timeout 300 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error); then
  echo "42-interop-grpcjs: 'npm ci' of peers/grpcjs/package-lock.json failed (is the npm registry reachable?)" >&2
  exit 1
fi
exec tests/interop/run_matrix.sh "$build" grpcjs:h2rpc h2rpc:grpcjs grpcjs:grpcjs
