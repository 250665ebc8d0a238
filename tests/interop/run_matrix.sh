#!/usr/bin/env bash
# The interop matrix: every gRPC interop case (doc/interop-test-descriptions.md) in each
# direction between h2rpc and grpc++, over plaintext loopback and over TLS.
#
#   tests/interop/run_matrix.sh BUILD_DIR [CLIENT:SERVER ...]
#
# Directions (default: all four):
#   h2rpc:h2rpc    h2rpc client  -> h2rpc server
#   h2rpc:grpcpp   h2rpc client  -> grpc++ server
#   grpcpp:h2rpc   grpc++ client -> h2rpc server
#   grpcpp:grpcpp  grpc++ client -> grpc++ server (control: checks the peers and this script)
# and, on request, against grpc-js (peers/grpcjs, Node.js; scripts/test.d/42-interop-grpcjs.sh
# installs it into BUILD_DIR/grpcjs and runs these):
#   grpcjs:h2rpc   grpc-js client -> h2rpc server
#   h2rpc:grpcjs   h2rpc client   -> grpc-js server
#   grpcjs:grpcjs  grpc-js client -> grpc-js server (control)
# and against grpc-go (peers/grpcgo, Debian's golang-google-grpc-dev; scripts/test.d/
# 44-interop-grpcgo.sh builds it into BUILD_DIR/grpcgo and runs these):
#   grpcgo:h2rpc   grpc-go client -> h2rpc server
#   h2rpc:grpcgo   h2rpc client   -> grpc-go server
#   grpcgo:grpcgo  grpc-go client -> grpc-go server (control)
# and against grpc-java (peers/grpcjava, Debian's libgrpc-java with Netty; scripts/test.d/
# 44-interop-grpcjava.sh builds it into BUILD_DIR/grpcjava and runs these):
#   grpcjava:h2rpc, h2rpc:grpcjava, grpcjava:grpcjava (control)
# and against grpcio, gRPC's Python binding (peers/grpcio, Debian's python3-grpcio; scripts/
# test.d/44-interop-grpcio.sh generates its stubs into BUILD_DIR/grpcio and runs these):
#   grpcio:h2rpc, h2rpc:grpcio, grpcio:grpcio (control)
# grpc-js and grpc-go handlers cannot see whether a request was compressed nor compress one
# response and not another, so the four *_compressed_* cases are skipped (SKIP lines) against
# their servers; their clients run them (checking payloads; they cannot see response flags).
# grpc-java's and grpcio's servers can compress per response but cannot see request compression:
# only the two client_compressed_* cases are skipped against them.
#
# Transports: INTEROP_TRANSPORTS="plaintext tls testca" (the default) runs every direction over
# each. TLS runs use a CA and a server certificate (foo.test.google.fr, as gRPC's interop tests)
# generated for the run by the openssl CLI; clients pass --use_tls=true --tls_ca_file
# --server_host_override=foo.test.google.fr. testca runs start servers and clients the way
# gRPC's interop drivers do, with no certificate flags: servers get a bare --use_tls=true (and
# present gRPC's test pair, server1.pem), clients --use_tls=true --use_test_ca=true
# --server_host_override=foo.test.google.fr (tests/interop/grpc_test_credentials.h says where
# those files come from); only INTEROP_TESTCA_CASES (default: four cases) run over it.
#
# h2rpc clients also run gRPC's rpc_soak and channel_soak (10 large unary calls on one channel,
# and on a new channel each; INTEROP_EXTRA_CASES="" leaves them out).
#
# Prints one line per case, "PASS client server case" or "FAIL client server case: reason"
# (TLS rows name the case "tls/case" or "testca/case"), a summary per direction and transport, and last
# "N passed, M failed". Exit status is non-zero if any case
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
read -r -a transports <<<"${INTEROP_TRANSPORTS:-plaintext tls testca}"
read -r -a testca_cases <<<"${INTEROP_TESTCA_CASES:-empty_unary large_unary ping_pong custom_metadata}"

declare -A client_bin=(
  [h2rpc]="$build/tests/interop/h2rpc-interop-client"
  [grpcpp]="$build/peers/grpcpp/grpcpp-interop-client")
declare -A server_bin=(
  [h2rpc]="$build/tests/interop/h2rpc-interop-server"
  [grpcpp]="$build/peers/grpcpp/grpcpp-interop-server")
peers=$(cd "$(dirname "$0")/../../peers" && pwd)
client_bin[grpcjs]="$peers/grpcjs/grpcjs-interop-client"
server_bin[grpcjs]="$peers/grpcjs/grpcjs-interop-server"
client_bin[grpcgo]="$build/grpcgo/grpcgo-interop-client"
server_bin[grpcgo]="$build/grpcgo/grpcgo-interop-server"
client_bin[grpcjava]="$build/grpcjava/grpcjava-interop-client"
server_bin[grpcjava]="$build/grpcjava/grpcjava-interop-server"
client_bin[grpcio]="$build/grpcio/grpcio-interop-client"
server_bin[grpcio]="$build/grpcio/grpcio-interop-server"
export GRPCJS_NODE_MODULES=${GRPCJS_NODE_MODULES:-$build/grpcjs/node_modules}
# Cases only some clients have (gRPC's soak cases; the grpc++,
# grpc-js, grpc-go, grpc-java and grpcio peer clients here implement the 18 above).
declare -A client_extra_cases=(
  [h2rpc]="${INTEROP_EXTRA_CASES-rpc_soak channel_soak}")
compressed_cases="client_compressed_unary server_compressed_unary client_compressed_streaming server_compressed_streaming"
declare -A server_skips=([grpcjs]="$compressed_cases" [grpcgo]="$compressed_cases"
  [grpcjava]="client_compressed_unary client_compressed_streaming"
  [grpcio]="client_compressed_unary client_compressed_streaming")

work=$(mktemp -d "${TMPDIR:-/tmp}/h2rpc-interop.XXXXXX")
# Servers are keyed "impl" (plaintext), "impl/tls" or "impl/testca".
declare -A server_pid=() server_port=() server_error=()
tls_host=foo.test.google.fr
tls_error=""

# The TLS run's certificates: a CA and a server certificate signed by it.
make_certs() {
  command -v openssl >/dev/null || { tls_error="openssl CLI not found"; return 1; }
  if ! (cd "$work" &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
      -subj "/CN=h2rpc interop CA" &&
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
      -subj "/CN=$tls_host" &&
    printf 'subjectAltName=DNS:%s,DNS:*.test.google.fr,DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' \
      "$tls_host" >ext.cnf &&
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -out server.pem -days 2 -extfile ext.cnf) >"$work/openssl.log" 2>&1; then
    tls_error="certificate generation failed: $(tail -1 "$work/openssl.log")"
    return 1
  fi
}

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

# Starts server IMPL ("h2rpc", "grpcpp/tls", ...) on 127.0.0.1:0 and waits (10 s at most) for
# its "listening" line.
start_server() {
  local impl=$1 bin=${server_bin[${1%/*}]} log="$work/${1//\//-}-server"
  local tls_flags=(--use_tls=false)
  case $impl in
    */tls) tls_flags=(--use_tls=true --tls_cert_file="$work/server.pem"
      --tls_key_file="$work/server.key") ;;
    */testca) tls_flags=(--use_tls=true) ;;
  esac
  server_error[$impl]=""
  if [ ! -x "$bin" ]; then
    server_error[$impl]="server not built: $bin"
    return 1
  fi
  "$bin" --port=0 --bind=127.0.0.1 "${tls_flags[@]}" >"$log.out" 2>"$log.err" &
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
    why=$(tail -1 "$work/${impl//\//-}-server.err" 2>/dev/null)
    unset "server_pid[$impl]"
    echo "note: $impl server died (exit $rc)${why:+: $why}; restarting it" >&2
  fi
  start_server "$impl"
}

passed=0
failed=0
skipped=0
declare -A dir_passed=() dir_failed=()
summaries=()

run_case() {  # run_case CLIENT SERVER CASE TRANSPORT
  local client=$1 server=$2 name=$3 transport=$4 reason="" rc
  local label="$client $server $name" key=$server client_tls=(--use_tls=false)
  if [ "$transport" = tls ]; then
    label="$client $server tls/$name"
    key=$server/tls
    client_tls=(--use_tls=true --tls_ca_file="$work/ca.pem" --server_host_override="$tls_host")
  elif [ "$transport" = testca ]; then
    label="$client $server testca/$name"
    key=$server/testca
    client_tls=(--use_tls=true --use_test_ca=true --server_host_override="$tls_host")
  fi
  if [[ " ${server_skips[$server]:-} " == *" $name "* ]]; then
    echo "SKIP $label: the $server server cannot honour this case's compression flags"
    skipped=$((skipped + 1))
    return
  fi
  if [ "$transport" = tls ] && [ -n "$tls_error" ]; then
    reason=$tls_error
  elif ! ensure_server "$key"; then
    reason=${server_error[$key]}
  elif [ ! -x "${client_bin[$client]}" ]; then
    reason="client not built: ${client_bin[$client]}"
  else
    local out="$work/case.out" err="$work/case.err"
    timeout -k 2 "$case_timeout" "${client_bin[$client]}" --server_host=127.0.0.1 \
      --server_port="${server_port[$key]}" --test_case="$name" "${client_tls[@]}" \
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
    if ! kill -0 "${server_pid[$key]}" 2>/dev/null; then
      local died why
      why=$(grep -v '^[[:space:]]*$' "$work/${key//\//-}-server.err" 2>/dev/null | tail -1)
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
    dir_passed[$transport:$client:$server]=$((${dir_passed[$transport:$client:$server]:-0} + 1))
  else
    echo "FAIL $label: $reason"
    failed=$((failed + 1))
    dir_failed[$transport:$client:$server]=$((${dir_failed[$transport:$client:$server]:-0} + 1))
  fi
}

for transport in "${transports[@]}"; do
  case $transport in
    plaintext) ;;
    tls) make_certs ;;
    testca) ;;
    *) echo "$0: unknown transport '$transport' (plaintext, tls, testca)" >&2; exit 2 ;;
  esac
  for dir in "${directions[@]}"; do
    client=${dir%%:*}
    server=${dir##*:}
    if [ -z "${client_bin[$client]:-}" ] || [ -z "${server_bin[$server]:-}" ]; then
      echo "$0: unknown direction '$dir'" >&2
      usage
    fi
    title="$client client -> $server server"
    [ "$transport" = tls ] && title="$title over TLS"
    [ "$transport" = testca ] && title="$title over TLS with gRPC's test credentials"
    [ "$client" = "$server" ] && [ "$client" != h2rpc ] && title="$title (control)"
    echo "--- $title"
    read -r -a extra <<<"${client_extra_cases[$client]:-}"
    run_cases=("${cases[@]}" "${extra[@]}")
    [ "$transport" = testca ] && run_cases=("${testca_cases[@]}")
    for name in "${run_cases[@]}"; do
      run_case "$client" "$server" "$name" "$transport"
    done
    key=$transport:$dir
    summaries+=("$title: ${dir_passed[$key]:-0} passed, ${dir_failed[$key]:-0} failed")
  done
done

echo "---"
printf '%s\n' "${summaries[@]}"
[ "$skipped" -gt 0 ] && echo "${skipped} skipped (see the SKIP lines)"
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
