# shellcheck shell=bash
# Shared by the proxy runs (nginx_proxy.sh, haproxy_proxy.sh): every gRPC interop case through a
# real gRPC proxy in front of the h2rpc interop server, over h2c (plaintext both hops) and over
# TLS (TLS both hops, each verifying certificates). The clients are the h2rpc interop client
# and, when built, the grpc++, grpc-go and grpcio ones (BUILD_DIR/grpcgo and grpcio, which the
# scripts/test.d/44-interop-* stages build before the proxy stages run). Not grpc-java's: it
# passed all 72 runs through both proxies, but a JVM start per case costs about a minute a run.
#
# The runner sources this with BUILD_DIR as $1 and PROXY (a label) set, writes its proxy's
# configuration for the ports below, starts it (adding its pid to `pids`) and calls
# run_all_cases. Everything lives in a temporary directory on 127.0.0.1 ports the kernel
# picked; everything started is stopped on exit.
#
#   after sourcing: $work, $root, $plain_upstream, $tls_upstream (the servers' ports),
#   $h2c_port, $tls_port (free ports for the proxy), $work/certs/{ca,server}.pem, server.key
# KEEP_WORK=1 keeps the directory (proxy log, server output) for a look afterwards.

[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" 2>/dev/null && pwd) || { echo "$0: no build directory '$1'" >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

server_bin=$build/tests/interop/h2rpc-interop-server
declare -A client_bin=([h2rpc]=$build/tests/interop/h2rpc-interop-client)
if [ -x "$build/peers/grpcpp/grpcpp-interop-client" ]; then
  client_bin[grpcpp]=$build/peers/grpcpp/grpcpp-interop-client
fi
for peer in grpcgo grpcio; do
  if [ -x "$build/$peer/$peer-interop-client" ]; then
    client_bin[$peer]=$build/$peer/$peer-interop-client
  fi
done
cases=(empty_unary large_unary client_streaming server_streaming ping_pong empty_stream
  custom_metadata status_code_and_message special_status_message unimplemented_method
  unimplemented_service cancel_after_begin cancel_after_first_response
  timeout_on_sleeping_server client_compressed_unary server_compressed_unary
  client_compressed_streaming server_compressed_streaming)

work=$(mktemp -d "${TMPDIR:-/tmp}/h2rpc-$PROXY.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

give_up() {  # give_up WHAT: one failed check and the summary line
  echo "FAIL $1"
  echo "0 passed, 1 failed"
  exit 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_server() {  # start_server NAME [flags...]: sets started_port to the port it announced
  # Not in a $(...) subshell: the pid must reach `pids`, or cleanup could not stop the server.
  local name=$1
  shift
  "$server_bin" --port=0 --bind=127.0.0.1 "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  started_port=""
  for _ in $(seq 1 100); do
    started_port=$(sed -n 's/.*"event":"listening","port":\([0-9]*\).*/\1/p' "$work/$name.out" |
      head -1)
    [ -n "$started_port" ] && break
    sleep 0.05
  done
}

wait_for_port() {  # wait_for_port PORT: true once something accepts connections on it
  for _ in $(seq 1 100); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 0.2)" \
      2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

sh "$root/tests/tls/make_certs.sh" "$work/certs" >"$work/certs.log" 2>&1 ||
  give_up "certificates: $(tail -1 "$work/certs.log")"
start_server plain
plain_upstream=$started_port
start_server tls --use_tls=true --tls_cert_file="$work/certs/server.pem" \
  --tls_key_file="$work/certs/server.key"
tls_upstream=$started_port
if [ -z "$plain_upstream" ] || [ -z "$tls_upstream" ]; then
  give_up "h2rpc-interop-server did not start: $(cat "$work"/*.err | tail -2)"
fi
h2c_port=$(free_port)
tls_port=$(free_port)

# A proxy's own bugs, reproduced with grpc++'s and grpc-go's servers behind it as well: a case
# whose failure message contains the one given counts as "known"; passing counts as passing,
# and any other failure fails. Keyed PROXY:CLIENT:CASE, value "message|why".
haproxy_1219="Received RST_STREAM with error code 8|haproxy/haproxy#1219: RST_STREAM(NO_ERROR) after the trailers relayed as CANCEL"
declare -A known_failures=(
  # HAProxy 2.6 turns a server's RST_STREAM(NO_ERROR) after the trailers (RFC 9113 §8.1, sent
  # when the response ends before the client half-closed) into RST_STREAM(CANCEL) to the client
  # and drops the trailers (haproxy/haproxy#1219). grpcio's client half-closes late enough that
  # the two cases whose server ends the call on the first message race into it (1 run in 3 to 6).
  [haproxy:grpcio:status_code_and_message]="$haproxy_1219"
  [haproxy:grpcio:client_compressed_streaming]="$haproxy_1219"
)

passed=0
failed=0
known=0
run_case() {  # run_case CLIENT TRANSPORT CASE
  local client=$1 transport=$2 name=$3 out rc
  local flags=(--server_host=127.0.0.1 --test_case="$name")
  if [ "$transport" = tls ]; then
    flags+=(--server_port="$tls_port" --use_tls=true --tls_ca_file="$work/certs/ca.pem"
      --server_host_override=localhost)
  else
    flags+=(--server_port="$h2c_port")
  fi
  out=$(timeout 30 "${client_bin[$client]}" "${flags[@]}" 2>&1)
  rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "PASS $client via-$PROXY/$transport $name"
    passed=$((passed + 1))
  else
    local known_failure=${known_failures[$PROXY:$client:$name]:-}
    if [ -n "$known_failure" ] && [[ "$(echo "$out" | tail -1)" == *"${known_failure%%|*}"* ]]; then
      echo "KNOWN $client via-$PROXY/$transport $name: ${known_failure#*|}"
      known=$((known + 1))
      return
    fi
    echo "FAIL $client via-$PROXY/$transport $name: exit $rc: $(echo "$out" | tail -1)"
    failed=$((failed + 1))
  fi
}

run_all_cases() {  # run_all_cases PROXY_LOG: every case, every client, both transports
  local client transport name
  for client in h2rpc grpcpp grpcgo grpcio; do
    [ -n "${client_bin[$client]:-}" ] || continue
    for transport in h2c tls; do
      for name in "${cases[@]}"; do run_case "$client" "$transport" "$name"; done
    done
  done
  if [ "$failed" -ne 0 ]; then
    echo "--- $PROXY log (last lines)"
    tail -20 "$1"
  fi
  [ "$known" -eq 0 ] || echo "$known known failures of the proxy (see the KNOWN lines)"
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
