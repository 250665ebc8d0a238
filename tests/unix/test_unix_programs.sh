#!/usr/bin/env bash
# meson test 'unix-programs' (suite unix): every shipped server/client pair over unix-domain
# sockets in a temporary directory, and over an abstract name: the examples (greeter,
# route_guide, multiplex), the interop programs (h2rpc both ways, and crossed with grpc++), the
# bench programs (h2rpc both ways, and crossed with grpc++). Also, with the greeter: the socket
# file is gone after a clean SIGTERM, and a file left by a SIGKILLed server is taken over by the
# next server.
#
#   test_unix_programs.sh NAME PROGRAM [NAME PROGRAM ...]
#
# NAMEs: greeter_server greeter_client route_guide_server route_guide_client route_guide_db
# multiplex_server multiplex_client interop_server interop_client bench_server bench_client
# grpcpp_greeter_server grpcpp_greeter_client grpcpp_interop_server grpcpp_interop_client
# grpcpp_bench_server grpcpp_bench_client. A part whose programs were not given (not built) is
# skipped and says so. Prints "PASS name" / "FAIL name: reason"; exits 1 if anything failed.
set -uo pipefail

declare -A bin=()
while [ $# -ge 2 ]; do
  bin[$1]=$2
  shift 2
done
[ $# -eq 0 ] || { echo "usage: $0 NAME PROGRAM [NAME PROGRAM ...]" >&2; exit 2; }

# Short: sun_path holds 107 bytes.
work=$(mktemp -d /tmp/h2rpc-unix.XXXXXX)
abstract_prefix="h2rpc-unix-test-$$"
pids=()
passed=0
failed=0
skipped=0

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
skip() { echo "SKIP $1: $2"; skipped=$((skipped + 1)); }
have() { for n in "$@"; do [ -n "${bin[$n]:-}" ] || return 1; done; }
impl() { case $1 in grpcpp_*) echo grpcpp ;; *) echo h2rpc ;; esac; }

stop_pid() {  # stop_pid PID SIGNAL: sends SIGNAL, waits (10 s, then SIGKILL); sets $stop_rc
  local pid=$1 sig=${2:-TERM}
  stop_rc=0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; stop_rc=$?; return; }
  kill -"$sig" "$pid" 2>/dev/null
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  { wait "$pid"; } 2>/dev/null  # (quietly: no "Killed" job notice)
  stop_rc=$?
}

cleanup() {
  for pid in "${pids[@]}"; do stop_pid "$pid" KILL; done
  rm -rf "$work"
}
trap cleanup EXIT

# start_server LOG PROGRAM ARGS...: runs it in the background until it prints a line saying it
# listens (h2rpc examples: "Server listening on ...", the others a JSON "listening" event);
# sets $server_pid, or returns 1 (after 10 s, or if it exits first).
start_server() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 100); do
    grep -qs 'listening' "$log" && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.1
  done
  cat "$log" >&2
  return 1
}

# run NAME PROGRAM ARGS...: runs a client for at most 60 s; output in $work/NAME.out/.err,
# exit status in $rc.
run() {
  local name=$1
  shift
  timeout 60 "$@" >"$work/$name.out" 2>"$work/$name.err"
  rc=$?
  [ "$rc" -eq 0 ] || { cat "$work/$name.out" "$work/$name.err" >&2; }
}

# --- examples --------------------------------------------------------------------------------

if have greeter_server greeter_client; then
  sock="$work/greeter.sock"
  for address in "unix:$sock" "unix://$sock" "unix-abstract:$abstract_prefix-greeter"; do
    name="greeter $address"
    if ! start_server "$work/greeter.log" "${bin[greeter_server]}" --listen "$address"; then
      fail "$name" "server did not start"
      continue
    fi
    grep -qFx "Server listening on $address" "$work/greeter.log" ||
      fail "$name" "server did not print its unix address"
    run greeter "${bin[greeter_client]}" --target "$address" --threads 3
    if [ "$rc" -eq 0 ] && [ "$(grep -cFx 'Greeter received: Hello world' "$work/greeter.out")" -eq 3 ]
    then pass "$name"; else fail "$name" "client exit $rc"; fi
    stop_pid "$server_pid" TERM
    [ "$stop_rc" -eq 0 ] || fail "$name" "server exit status $stop_rc after SIGTERM"
    if [ "${address#unix-abstract:}" = "$address" ]; then
      if [ -e "$sock" ]; then fail "$name socket file removed" "$sock still exists"
      else pass "$name socket file removed"; fi
    fi
  done

  # A server killed outright leaves its socket file; the next one takes it over.
  name="greeter stale socket file after SIGKILL"
  if start_server "$work/greeter.log" "${bin[greeter_server]}" --listen "unix:$sock"; then
    stop_pid "$server_pid" KILL
    if [ ! -S "$sock" ]; then
      fail "$name" "no socket file left by the killed server"
    elif ! start_server "$work/greeter2.log" "${bin[greeter_server]}" --listen "unix:$sock"; then
      fail "$name" "second server did not start"
    else
      # And a third one on the same live path must refuse, leaving the second one serving.
      "${bin[greeter_server]}" --listen "unix:$sock" >"$work/greeter3.log" 2>&1
      third=$?
      run greeter "${bin[greeter_client]}" --target "unix:$sock"
      if [ "$rc" -ne 0 ]; then fail "$name" "client after takeover: exit $rc"
      elif [ "$third" -eq 0 ] || ! grep -q 'address in use' "$work/greeter3.log"; then
        fail "$name" "a server on a live path did not fail 'address in use' (exit $third)"
      else pass "$name"; fi
      stop_pid "$server_pid" TERM
    fi
  else
    fail "$name" "server did not start"
  fi
else
  skip greeter "examples not built"
fi

if have route_guide_server route_guide_client route_guide_db; then
  address="unix:$work/route_guide.sock"
  if start_server "$work/route_guide.log" "${bin[route_guide_server]}" --listen "$address" \
    --db_path "${bin[route_guide_db]}"; then
    run route_guide "${bin[route_guide_client]}" --target "$address" \
      --db_path "${bin[route_guide_db]}" --points 5 --delay_ms 1
    if [ "$rc" -eq 0 ] && grep -qFx "All four calls succeeded." "$work/route_guide.out"; then
      pass "route_guide $address"
    else fail "route_guide $address" "client exit $rc"; fi
    stop_pid "$server_pid" TERM
  else
    fail "route_guide $address" "server did not start"
  fi
else
  skip route_guide "examples not built"
fi

if have multiplex_server multiplex_client; then
  address="unix-abstract:$abstract_prefix-multiplex"
  if start_server "$work/multiplex.log" "${bin[multiplex_server]}" --listen "$address"; then
    run multiplex "${bin[multiplex_client]}" --target "$address" --threads 4 --calls 8
    if [ "$rc" -eq 0 ] && grep -qFx \
      "multiplex: 64 calls to 2 services from 4 threads over one channel succeeded" \
      "$work/multiplex.out"; then
      pass "multiplex $address"
    else fail "multiplex $address" "client exit $rc"; fi
    stop_pid "$server_pid" TERM
  else
    fail "multiplex $address" "server did not start"
  fi
else
  skip multiplex "examples not built"
fi

# --- interop ---------------------------------------------------------------------------------

interop_cases=(empty_unary large_unary client_streaming server_streaming ping_pong
  custom_metadata status_code_and_message cancel_after_first_response)

# interop CLIENT_KEY SERVER_KEY ADDRESS: the server with --bind=ADDRESS (no --port), then the
# client with --server_host=ADDRESS (no --server_port), one run per case.
interop() {
  local client=$1 server=$2 address=$3 label
  label="interop $(impl "$1")->$(impl "$2")"
  if ! have "$client" "$server"; then
    skip "$label" "not built"
    return
  fi
  if ! start_server "$work/interop.log" "${bin[$server]}" --bind="$address"; then
    fail "$label $address" "server did not start"
    return
  fi
  local ok=0 bad=""
  for c in "${interop_cases[@]}"; do
    run "interop-$c" "${bin[$client]}" --server_host="$address" --test_case="$c"
    if [ "$rc" -eq 0 ]; then ok=$((ok + 1)); else bad+=" $c"; fi
  done
  if [ -z "$bad" ]; then pass "$label $address ($ok cases)"
  else fail "$label $address" "failed:$bad"; fi
  stop_pid "$server_pid" TERM
}

interop interop_client interop_server "unix:$work/interop.sock"
interop interop_client interop_server "unix-abstract:$abstract_prefix-interop"
interop interop_client grpcpp_interop_server "unix:$work/interop-grpcpp.sock"
interop grpcpp_interop_client interop_server "unix:$work/interop-h2rpc.sock"
interop grpcpp_interop_client interop_server "unix-abstract:$abstract_prefix-interop-h2rpc"

# --- bench -----------------------------------------------------------------------------------

# bench CLIENT_KEY SERVER_KEY ADDRESS: unary and echo for half a second each; the client must
# exit 0 with "errors":0.
bench() {
  local client=$1 server=$2 address=$3 label
  label="bench $(impl "$1")->$(impl "$2")"
  if ! have "$client" "$server"; then
    skip "$label" "not built"
    return
  fi
  if ! start_server "$work/bench.log" "${bin[$server]}" --bind "$address"; then
    fail "$label $address" "server did not start"
    return
  fi
  local bad=""
  for mode in unary echo stream_out; do
    run "bench-$mode" "${bin[$client]}" --target "$address" --mode "$mode" --threads 2 \
      --seconds 0.5 --warmup 0.1
    if [ "$rc" -ne 0 ] || ! grep -q '"errors":0' "$work/bench-$mode.out" ||
      grep -q '"ops":0,' "$work/bench-$mode.out"; then
      bad+=" $mode"
    fi
  done
  if [ -z "$bad" ]; then pass "$label $address"; else fail "$label $address" "failed:$bad"; fi
  stop_pid "$server_pid" TERM
  [ "$stop_rc" -eq 0 ] || fail "$label $address" "server exit status $stop_rc after SIGTERM"
}

bench bench_client bench_server "unix:$work/bench.sock"
bench bench_client bench_server "unix-abstract:$abstract_prefix-bench"
bench bench_client grpcpp_bench_server "unix:$work/bench-grpcpp.sock"
bench grpcpp_bench_client bench_server "unix:$work/bench-h2rpc.sock"

# --- greeter crossed with grpc++ -------------------------------------------------------------

greeter_cross() {  # greeter_cross CLIENT_KEY SERVER_KEY ADDRESS
  local label
  label="greeter $(impl "$1")->$(impl "$2") $3"
  if ! have "$1" "$2"; then
    skip "$label" "not built"
    return
  fi
  if ! start_server "$work/greeter-cross.log" "${bin[$2]}" --listen "$3"; then
    fail "$label" "server did not start"
    return
  fi
  run greeter-cross "${bin[$1]}" --target "$3" --threads 2
  if [ "$rc" -eq 0 ] && [ "$(grep -cFx 'Greeter received: Hello world' "$work/greeter-cross.out")" -eq 2 ]
  then pass "$label"; else fail "$label" "client exit $rc"; fi
  stop_pid "$server_pid" TERM
}

greeter_cross greeter_client grpcpp_greeter_server "unix:$work/greeter-grpcpp.sock"
greeter_cross grpcpp_greeter_client greeter_server "unix:$work/greeter-h2rpc.sock"
greeter_cross grpcpp_greeter_client greeter_server "unix-abstract:$abstract_prefix-greeter-h2rpc"

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
