#!/usr/bin/env bash
# The interop matrix: every gRPC interop case (doc/interop-test-descriptions.md) in each
# direction between h2rpc and grpc++, over plaintext loopback.
#
#   tests/interop/run_matrix.sh BUILD_DIR [CLIENT:SERVER ...]
#
# Directions (default: all four):
#   h2rpc:h2rpc    h2rpc client  -> h2rpc server
#   h2rpc:grpcpp   h2rpc client  -> grpc++ server
#   grpcpp:h2rpc   grpc++ client -> h2rpc server
#   grpcpp:grpcpp  grpc++ client -> grpc++ server (control: checks the peers and this script)
#
# Prints one line per case, "PASS client server case" or "FAIL client server case: reason",
# a summary per direction, and last "N passed, M failed". Exit status is non-zero if any case
# failed (the control included: a broken control means the matrix proves nothing).
#
# Each server is started once per run on 127.0.0.1 with --port=0 and announces the port it got;
# a server that dies is reported and restarted for the next case. Every case runs under a
# timeout (INTEROP_CASE_TIMEOUT seconds, default 20). INTEROP_CASES="a b" limits the cases.
# Every server this script started is stopped when it exits, however it exits.
set -uo pipefail

usage() {
  echo "usage: $0 BUILD_DIR [h2rpc:h2rpc] [h2rpc:grpcpp] [grpcpp:h2rpc] [grpcpp:grpcpp]" >&2
  exit 2
}
[ $# -ge 1 ] || usage
build=$(cd "$1" 2>/dev/null && pwd) || { echo "$0: no build directory '$1'" >&2; exit 2; }
shift
directions=("$@")
[ ${#directions[@]} -gt 0 ] || directions=(h2rpc:h2rpc h2rpc:grpcpp grpcpp:h2rpc grpcpp:grpcpp)

case_timeout=${INTEROP_CASE_TIMEOUT:-20}
all_cases=(empty_unary large_unary client_streaming server_streaming ping_pong empty_stream
  custom_metadata status_code_and_message special_status_message unimplemented_method
  unimplemented_service cancel_after_begin cancel_after_first_response
  timeout_on_sleeping_server client_compressed_unary server_compressed_unary
  client_compressed_streaming server_compressed_streaming)
read -r -a cases <<<"${INTEROP_CASES:-${all_cases[*]}}"

declare -A client_bin=(
  [h2rpc]="$build/tests/interop/h2rpc-interop-client"
  [grpcpp]="$build/peers/grpcpp/grpcpp-interop-client")
declare -A server_bin=(
  [h2rpc]="$build/tests/interop/h2rpc-interop-server"
  [grpcpp]="$build/peers/grpcpp/grpcpp-interop-server")

work=$(mktemp -d "${TMPDIR:-/tmp}/h2rpc-interop.XXXXXX")
declare -A server_pid=() server_port=() server_error=()

stop_server() {  # stop_server IMPL: SIGTERM, then SIGKILL if it lingers
  local impl=$1 pid=${server_pid[$1]:-}
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  unset "server_pid[$impl]"
}

cleanup() {
  for impl in "${!server_pid[@]}"; do stop_server "$impl"; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts server IMPL on 127.0.0.1:0 and waits (10 s at most) for its "listening" line.
start_server() {
  local impl=$1 bin=${server_bin[$1]} log="$work/$1-server"
  server_error[$impl]=""
  if [ ! -x "$bin" ]; then
    server_error[$impl]="server not built: $bin"
    return 1
  fi
  "$bin" --port=0 --bind=127.0.0.1 >"$log.out" 2>"$log.err" &
  server_pid[$impl]=$!
  local port=""
  for _ in $(seq 100); do
    port=$(sed -n 's/.*"event":"listening","port":\([0-9]*\).*/\1/p' "$log.out" | head -1)
    [ -n "$port" ] && break
    kill -0 "${server_pid[$impl]}" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    local why
    why=$(tail -1 "$log.err" 2>/dev/null)
    stop_server "$impl"
    server_error[$impl]="$impl server did not start${why:+: $why}"
    return 1
  fi
  server_port[$impl]=$port
}

# Makes sure server IMPL is up; restarts it if it died. Prints why it died, if it did.
ensure_server() {
  local impl=$1 pid=${server_pid[$1]:-}
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then return 0; fi
  if [ -n "$pid" ]; then
    wait "$pid" 2>/dev/null
    local rc=$? why
    why=$(tail -1 "$work/$impl-server.err" 2>/dev/null)
    unset "server_pid[$impl]"
    echo "note: $impl server died (exit $rc)${why:+: $why}; restarting it" >&2
  fi
  start_server "$impl"
}

passed=0
failed=0
declare -A dir_passed=() dir_failed=()
summaries=()

run_case() {  # run_case CLIENT SERVER CASE
  local client=$1 server=$2 name=$3 reason="" rc
  local label="$client $server $name"
  if ! ensure_server "$server"; then
    reason=${server_error[$server]}
  elif [ ! -x "${client_bin[$client]}" ]; then
    reason="client not built: ${client_bin[$client]}"
  else
    local out="$work/case.out" err="$work/case.err"
    timeout -k 2 "$case_timeout" "${client_bin[$client]}" --server_host=127.0.0.1 \
      --server_port="${server_port[$server]}" --test_case="$name" --use_tls=false \
      >"$out" 2>"$err"
    rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      reason="timed out after ${case_timeout} s"
    elif [ "$rc" -ne 0 ]; then
      reason=$(grep -v '^[[:space:]]*$' "$err" | tail -1)
      reason="${reason:-exit status $rc, no message}"
      [ "$rc" -gt 128 ] && reason="$reason (killed by signal $((rc - 128)))"
    fi
    # A server that died during the case is part of the story.
    if ! kill -0 "${server_pid[$server]}" 2>/dev/null; then
      local died why
      why=$(grep -v '^[[:space:]]*$' "$work/$server-server.err" 2>/dev/null | tail -1)
      died="the $server server died${why:+ ($why)}"
      if [ -z "$reason" ]; then
        reason="the client passed but $died"
      else
        reason="$reason; $died"
      fi
    fi
  fi
  if [ -z "$reason" ]; then
    echo "PASS $label"
    passed=$((passed + 1))
    dir_passed[$client:$server]=$((${dir_passed[$client:$server]:-0} + 1))
  else
    echo "FAIL $label: $reason"
    failed=$((failed + 1))
    dir_failed[$client:$server]=$((${dir_failed[$client:$server]:-0} + 1))
  fi
}

for dir in "${directions[@]}"; do
  client=${dir%%:*}
  server=${dir##*:}
  if [ -z "${client_bin[$client]:-}" ] || [ -z "${server_bin[$server]:-}" ]; then
    echo "$0: unknown direction '$dir'" >&2
    usage
  fi
  title="$client client -> $server server"
  [ "$dir" = grpcpp:grpcpp ] && title="$title (control)"
  echo "--- $title"
  for name in "${cases[@]}"; do run_case "$client" "$server" "$name"; done
  summaries+=("$title: ${dir_passed[$dir]:-0} passed, ${dir_failed[$dir]:-0} failed")
done

echo "---"
printf '%s\n' "${summaries[@]}"
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
