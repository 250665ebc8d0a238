#!/usr/bin/env bash
# Interop with grpc-js (@grpc/grpc-js on Node.js), a gRPC implementation that shares no code
# with h2rpc or grpc++: its interop client against the h2rpc server, the h2rpc client against its
# interop server, and grpc-js against itself as the control, over plaintext and TLS.
# Then the grpc-js chaos client against the h2rpc and grpc++ bench servers (H2RPC_GRPCJS_CHAOS=0
# skips it).
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
status=0
tests/interop/run_matrix.sh "$build" grpcjs:h2rpc h2rpc:grpcjs grpcjs:grpcjs || status=1

# The chaos client (peers/grpcjs/chaos_client.js) against each bench server: 6,000 calls of
# every kind with short deadlines and cancels must end OK, CANCELLED or DEADLINE_EXCEEDED,
# with exact contents, and the server must still exit cleanly with its counters.
chaos() {  # chaos NAME SERVER_BINARY
  local name=$1 bin=$2 out port pid rc=0
  if [ ! -x "$bin" ]; then
    echo "chaos: $name bench server not built ($bin)" >&2
    return 1
  fi
  out=$(mktemp)
  "$bin" --port 0 >"$out" 2>"$out.err" &
  pid=$!
  for _ in $(seq 100); do
    port=$(sed -n 's/.*"event":"listening","port":\([0-9]*\).*/\1/p' "$out" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "chaos: $name bench server did not start: $(tail -1 "$out.err")" >&2
    rc=1
  else
    echo "--- chaos: grpc-js client -> $name bench server"
    NODE_PATH="$dest/node_modules" timeout -k 5 120 node peers/grpcjs/chaos_client.js \
      --target="127.0.0.1:$port" --calls=6000 || rc=1
  fi
  kill -TERM "$pid" 2>/dev/null
  if ! timeout 20 tail --pid="$pid" -f /dev/null; then
    echo "chaos: $name bench server did not stop on SIGTERM" >&2
    kill -KILL "$pid" 2>/dev/null
    rc=1
  fi
  wait "$pid" 2>/dev/null
  if [ -n "$port" ] && ! grep -q '"event":"exit"' "$out"; then
    echo "chaos: $name bench server ended without its exit line: $(tail -1 "$out.err")" >&2
    rc=1
  fi
  rm -f "$out" "$out.err"
  [ "$rc" -eq 0 ] && echo "PASS chaos $name" || echo "FAIL chaos $name"
  return "$rc"
}
if [ "${H2RPC_GRPCJS_CHAOS:-1}" != 0 ]; then
  chaos h2rpc "$build/bench/h2rpc-bench-server" || status=1
  chaos grpcpp "$build/peers/grpcpp/grpcpp-bench-server" || status=1  # control
fi
exit "$status"
