#!/usr/bin/env bash
# Interop with grpc-js (@grpc/grpc-js on Node.js), a gRPC implementation that shares no code
# with h2rpc or grpc++: its interop client against the h2rpc server, the h2rpc client against its
# interop server, and grpc-js against itself as the control, over plaintext and TLS; grpc-js's
# health client against the h2rpc greeter_server's health service.
# Then chaos runs, grpc-js's client against the h2rpc and grpc++ bench servers and h2rpc's client
# against the grpc-js, grpc++ and h2rpc ones (H2RPC_GRPCJS_CHAOS=0 skips them).
# Installs Node.js from Debian if the machine has none, and grpc-js at the versions
# peers/grpcjs/package-lock.json pins into BUILD_DIR/grpcjs (never into the source tree).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
dest="$build/grpcjs"
. scripts/npm-peer.sh
install_npm_peer peers/grpcjs "$dest"
status=0
tests/interop/run_matrix.sh "$build" grpcjs:h2rpc h2rpc:grpcjs grpcjs:grpcjs || status=1

# wait_port FILE SED_SCRIPT: prints the port a starting server wrote to FILE (waits 10 s at most).
wait_port() {
  local found
  for _ in $(seq 100); do
    found=$(sed -n "$2" "$1" | head -1)
    [ -n "$found" ] && echo "$found" && return 0
    sleep 0.1
  done
  return 1
}

# The standard health service (grpc.health.v1) of the h2rpc greeter_server, asked by grpc-js
# with grpc-proto's own health.proto: Check, NOT_FOUND for an unknown service, Watch + cancel.
health_grpcjs() {
  local out port pid rc=0
  out=$(mktemp)
  "$build/examples/helloworld/greeter_server" --listen 127.0.0.1:0 >"$out" 2>&1 &
  pid=$!
  port=$(wait_port "$out" 's/^Server listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p') || port=""
  if [ -z "$port" ]; then
    echo "health: greeter_server did not start: $(tail -1 "$out")" >&2
    rc=1
  else
    NODE_PATH="$dest/node_modules" timeout -k 5 60 node peers/grpcjs/health_client.js \
      --target="127.0.0.1:$port" --service=helloworld.Greeter || rc=1
  fi
  kill -TERM "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || { echo "health: greeter_server did not exit cleanly" >&2; rc=1; }
  rm -f "$out"
  [ "$rc" -eq 0 ] && echo "PASS health grpc-js -> h2rpc" || echo "FAIL health grpc-js -> h2rpc"
  return "$rc"
}
health_grpcjs || status=1

# Chaos clients against bench servers: every kind of call with short deadlines, cancels and
# messages up to 4 MiB must end OK, CANCELLED or DEADLINE_EXCEEDED with exact contents, and the
# server must still exit cleanly with its counters. The grpc-js client (chaos_client.js) meets
# the h2rpc and grpc++ servers; the h2rpc client (h2rpc-chaos-client) meets the grpc-js, grpc++
# and h2rpc servers.
# CHAOS_STOP_AFTER=S (grpc-js client only): SIGTERM the server after S seconds of load.
chaos() {  # chaos CLIENT SERVER SERVER_COMMAND...   (CLIENT: grpcjs or h2rpc)
  local client=$1 name=$2 out port pid rc=0
  shift 2
  if [ ! -x "$1" ]; then
    echo "chaos: $name bench server not built ($1)" >&2
    return 1
  fi
  out=$(mktemp)
  GRPCJS_NODE_MODULES="$(cd "$dest" && pwd)/node_modules" "$@" --port 0 >"$out" 2>"$out.err" &
  pid=$!
  port=$(wait_port "$out" 's/.*"event":"listening","port":\([0-9]*\).*/\1/p') || port=""
  if [ -z "$port" ]; then
    echo "chaos: $name bench server did not start: $(tail -1 "$out.err")" >&2
    rc=1
  elif [ "$client" = grpcjs ]; then
    local stops=false
    if [ -n "${CHAOS_STOP_AFTER:-}" ]; then
      stops=true
      (sleep "$CHAOS_STOP_AFTER" && kill -TERM "$pid" 2>/dev/null) &
    fi
    echo "--- chaos: grpc-js client -> $name bench server${CHAOS_STOP_AFTER:+, stopped after $CHAOS_STOP_AFTER s}"
    NODE_PATH="$dest/node_modules" timeout -k 5 120 node peers/grpcjs/chaos_client.js \
      --target="127.0.0.1:$port" --calls=6000 --server_stops="$stops" || rc=1
  else
    echo "--- chaos: h2rpc client -> $name bench server"
    timeout -k 5 120 "$build/bench/h2rpc-chaos-client" --target "127.0.0.1:$port" \
      --calls 4000 || rc=1
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
  local what="$client -> $name${CHAOS_STOP_AFTER:+ (stopped)}"
  [ "$rc" -eq 0 ] && echo "PASS chaos $what" || echo "FAIL chaos $what"
  return "$rc"
}
if [ "${H2RPC_GRPCJS_CHAOS:-1}" != 0 ]; then
  chaos grpcjs h2rpc "$build/bench/h2rpc-bench-server" || status=1
  chaos grpcjs grpcpp "$build/peers/grpcpp/grpcpp-bench-server" || status=1  # control
  chaos h2rpc grpcjs peers/grpcjs/grpcjs-bench-server || status=1
  chaos h2rpc grpcpp "$build/peers/grpcpp/grpcpp-bench-server" || status=1
  chaos h2rpc h2rpc "$build/bench/h2rpc-bench-server" || status=1
  # The h2rpc server shut down under load: calls may also end UNAVAILABLE, and the Node.js client
  # must still exit (a server that resets streams carelessly can hang it, see chaos_client.js).
  CHAOS_STOP_AFTER=3 chaos grpcjs h2rpc "$build/bench/h2rpc-bench-server" || status=1
fi
exit "$status"
