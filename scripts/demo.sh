#!/usr/bin/env bash
# The README's demo: builds the helloworld example and runs it end to end.
#
#   scripts/demo.sh                 (Debian 12; run as root, or with sudo available)
#
# 1. installs the Debian packages the build needs (scripts/install-deps.sh, idempotent);
# 2. configures ./build (once) and builds only greeter_server and greeter_client;
# 3. starts greeter_server on a free loopback port;
# 4. runs greeter_client with 4 threads sharing ONE channel (one SayHello each), then asks the
#    server's standard health service with h2rpc-health-probe;
# 5. stops the server with SIGTERM (it shuts down cleanly) and exits 0.
# Environment: BUILD (build directory, default "build"), JOBS (ninja -j, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
JOBS=${JOBS:-2}
server_bin="$BUILD/examples/helloworld/greeter_server"
client_bin="$BUILD/examples/helloworld/greeter_client"
probe_bin="$BUILD/services/health/h2rpc-health-probe"

echo "== installing dependencies (scripts/install-deps.sh)"
scripts/install-deps.sh

echo "== building greeter_server, greeter_client and h2rpc-health-probe in $BUILD/"
examples_option() {  # the value of -Dexamples in an existing build directory
  meson introspect "$BUILD" --buildoptions |
    python3 -c 'import json, sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "examples"))'
}
if [ -f "$BUILD/build.ninja" ]; then
  # Reconfigure only when needed: reconfiguring makes ninja regenerate the whole build.
  [ "$(examples_option)" = enabled ] || meson configure "$BUILD" -Dexamples=enabled
else
  meson setup "$BUILD" -Dexamples=enabled
fi
ninja -C "$BUILD" -j"$JOBS" examples/helloworld/greeter_server examples/helloworld/greeter_client \
  services/health/h2rpc-health-probe

log=$(mktemp)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -f "$log"
}
trap cleanup EXIT

echo "== starting greeter_server on a free loopback port"
"$server_bin" --listen 127.0.0.1:0 >"$log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 1 100); do  # at most 10 s
  port=$(sed -n 's/^Server listening on .*:\([0-9][0-9]*\)$/\1/p' "$log" | head -n 1)
  [ -n "$port" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$log" >&2
    echo "demo: greeter_server exited before listening" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$port" ]; then
  cat "$log" >&2
  echo "demo: greeter_server did not report its port within 10 s" >&2
  exit 1
fi
sed 's/^/  [server] /' "$log"

echo "== greeter_client --target 127.0.0.1:$port --threads 4 --name h2rpc (4 threads, one channel)"
client_rc=0
timeout 60 "$client_bin" --target "127.0.0.1:$port" --threads 4 --name h2rpc || client_rc=$?

echo "== h2rpc-health-probe --addr 127.0.0.1:$port --service helloworld.Greeter (grpc.health.v1)"
probe_rc=0
timeout 60 "$probe_bin" --addr "127.0.0.1:$port" --service helloworld.Greeter || probe_rc=$?

echo "== stopping greeter_server (SIGTERM)"
kill -TERM "$server_pid"
for _ in $(seq 1 100); do  # at most 10 s
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
server_rc=0
if kill -0 "$server_pid" 2>/dev/null; then
  echo "demo: greeter_server still running 10 s after SIGTERM; killing it" >&2
  server_rc=1
else
  wait "$server_pid" || server_rc=$?
  server_pid=""
fi
sed -n '2,$s/^/  [server] /p' "$log"

if [ "$client_rc" -ne 0 ]; then
  echo "demo: greeter_client failed (exit status $client_rc)" >&2
  exit 1
fi
if [ "$probe_rc" -ne 0 ]; then
  echo "demo: h2rpc-health-probe failed (exit status $probe_rc)" >&2
  exit 1
fi
if [ "$server_rc" -ne 0 ]; then
  echo "demo: greeter_server did not shut down cleanly (exit status $server_rc)" >&2
  exit 1
fi
echo "== demo done"
