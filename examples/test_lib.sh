# shellcheck shell=bash
# Helpers for the example tests (sourced, not run): start a server on a free loopback port, run
# a client with a time bound, check its output, and always stop the server.
#
# Servers are started with --listen 127.0.0.1:0 and report the port the kernel picked:
# h2rpc's examples print "Server listening on 127.0.0.1:PORT", the grpc++ peers print
# {"impl":"grpcpp","event":"listening","port":PORT}.

set -uo pipefail

workdir=$(mktemp -d)
server_pid=""
server_log=""
port=""

cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  rm -rf "$workdir"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  if [ -n "$server_log" ] && [ -f "$server_log" ]; then
    echo "--- server output:" >&2
    cat "$server_log" >&2
  fi
  exit 1
}

# start_server NAME COMMAND...: starts the server in the background, waits (at most 10 s) for it
# to report its port, sets $port.
start_server() {
  local name=$1
  shift
  server_log="$workdir/$name.log"
  "$@" >"$server_log" 2>&1 &
  server_pid=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(sed -n -e 's/^Server listening on .*:\([0-9][0-9]*\).*$/\1/p' \
      -e 's/.*"event":"listening","port":\([0-9][0-9]*\).*/\1/p' "$server_log" | head -n 1)
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || fail "$name exited before listening"
    sleep 0.1
  done
  [ -n "$port" ] || fail "$name did not report a port within 10 s"
  echo "$name listening on 127.0.0.1:$port (pid $server_pid)"
}

# stop_server: SIGTERM, then expects a clean exit (status 0) within 10 s.
stop_server() {
  local pid=$server_pid
  kill -TERM "$pid" 2>/dev/null || fail "server (pid $pid) already gone"
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    fail "server (pid $pid) still running 10 s after SIGTERM"
  fi
  wait "$pid"
  local rc=$?
  server_pid=""
  [ "$rc" -eq 0 ] || fail "server exited with status $rc after SIGTERM"
  echo "server stopped cleanly"
}

# run_client NAME COMMAND...: runs a client (at most 60 s), shows its output, leaves it in
# $workdir/NAME.out and $workdir/NAME.err and its exit status in $client_rc.
client_rc=0
run_client() {
  local name=$1
  shift
  echo "\$ $(basename "$1") ${*:2}"
  timeout 60 "$@" >"$workdir/$name.out" 2>"$workdir/$name.err"
  client_rc=$?
  cat "$workdir/$name.out"
  cat "$workdir/$name.err" >&2
  echo "(exit status $client_rc)"
}

# expect_count FILE N PATTERN: exactly N lines of FILE match the fixed string PATTERN.
expect_count() {
  local n
  n=$(grep -cFx -- "$3" "$1")
  [ "$n" -eq "$2" ] || fail "expected $2 lines \"$3\" in $(basename "$1"), got $n"
}

# expect_line FILE PATTERN: some line of FILE is exactly PATTERN.
expect_line() {
  grep -qFx -- "$2" "$1" || fail "no line \"$2\" in $(basename "$1")"
}

# expect_health PROBE: the server on $port answers grpc.health.v1 Check: "" and
# helloworld.Greeter SERVING (exit 0), an unknown service NOT_FOUND (exit 3).
expect_health() {
  local probe=$1 service
  for service in "" helloworld.Greeter; do
    run_client probe "$probe" --addr "127.0.0.1:$port" --service "$service"
    [ "$client_rc" -eq 0 ] || fail "h2rpc-health-probe --service '$service' exited with $client_rc"
    expect_count "$workdir/probe.out" 1 "status: SERVING"
  done
  run_client probe_unknown "$probe" --addr "127.0.0.1:$port" --service no.Such
  [ "$client_rc" -eq 3 ] || fail "h2rpc-health-probe of an unknown service exited with $client_rc, not 3"
  grep -q 'NOT_FOUND' "$workdir/probe_unknown.err" || fail "no NOT_FOUND from the unknown service"
}
