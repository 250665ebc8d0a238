#!/usr/bin/env bash
# Every gRPC interop case through nginx, a real gRPC proxy (grpc_pass), in front of the h2rpc
# interop server: over h2c (client → nginx → server, plaintext both hops) and over TLS (client
# → nginx with TLS, nginx → server with TLS, each hop verifying certificates). The clients are
# the h2rpc interop client and, when built, the grpc++ one.
#
#   tests/proxy/nginx_proxy.sh BUILD_DIR
#
# Prints "PASS client via-nginx/transport case" or "FAIL ...: reason" per case and ends with
# "N passed, M failed". nginx, the servers and the certificates live in a temporary directory
# on 127.0.0.1 ports the kernel picked; everything started is stopped on exit.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" 2>/dev/null && pwd) || { echo "$0: no build directory '$1'" >&2; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "$0: nginx not found (scripts/install-deps.sh installs it)" >&2; exit 1; }

server_bin=$build/tests/interop/h2rpc-interop-server
declare -A client_bin=([h2rpc]=$build/tests/interop/h2rpc-interop-client)
if [ -x "$build/peers/grpcpp/grpcpp-interop-client" ]; then
  client_bin[grpcpp]=$build/peers/grpcpp/grpcpp-interop-client
fi
cases=(empty_unary large_unary client_streaming server_streaming ping_pong empty_stream
  custom_metadata status_code_and_message special_status_message unimplemented_method
  unimplemented_service cancel_after_begin cancel_after_first_response
  timeout_on_sleeping_server client_compressed_unary server_compressed_unary
  client_compressed_streaming server_compressed_streaming)

work=$(mktemp -d "${TMPDIR:-/tmp}/h2rpc-nginx.XXXXXX")
pids=()
cleanup() {
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_server() {  # start_server NAME [flags...]: prints the port it announced
  local name=$1
  shift
  "$server_bin" --port=0 --bind=127.0.0.1 "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  local port="" i
  for i in $(seq 1 100); do
    port=$(sed -n 's/.*"event":"listening","port":\([0-9]*\).*/\1/p' "$work/$name.out" | head -1)
    [ -n "$port" ] && break
    sleep 0.05
  done
  echo "$port"
}

sh "$root/tests/tls/make_certs.sh" "$work/certs" >"$work/certs.log" 2>&1 ||
  { echo "FAIL certificates: $(tail -1 "$work/certs.log")"; echo "0 passed, 1 failed"; exit 1; }
plain_upstream=$(start_server plain)
tls_upstream=$(start_server tls --use_tls=true --tls_cert_file="$work/certs/server.pem" \
  --tls_key_file="$work/certs/server.key")
if [ -z "$plain_upstream" ] || [ -z "$tls_upstream" ]; then
  echo "FAIL h2rpc-interop-server did not start: $(cat "$work"/*.err | tail -2)"
  echo "0 passed, 1 failed"
  exit 1
fi
h2c_port=$(free_port)
tls_port=$(free_port)
mkdir -p "$work/nginx-temp"
# As root, nginx's workers would run as an unprivileged user that cannot enter $work.
user_line=""
[ "$(id -u)" -eq 0 ] && user_line="user root;"
cat >"$work/nginx.conf" <<EOF
$user_line
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log info;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $work/nginx-temp;
  client_max_body_size 0;
  server {
    listen 127.0.0.1:$h2c_port http2;
    location / { grpc_pass grpc://127.0.0.1:$plain_upstream; }
  }
  server {
    listen 127.0.0.1:$tls_port ssl http2;
    ssl_certificate $work/certs/server.pem;
    ssl_certificate_key $work/certs/server.key;
    location / {
      grpc_pass grpcs://127.0.0.1:$tls_upstream;
      grpc_ssl_trusted_certificate $work/certs/ca.pem;
      grpc_ssl_verify on;
      grpc_ssl_name localhost;
      grpc_ssl_server_name on;
    }
  }
}
EOF
if ! "$nginx" -c "$work/nginx.conf" -p "$work" -e "$work/nginx-error.log" 2>"$work/nginx.start"; then
  echo "FAIL nginx did not start: $(tail -2 "$work/nginx.start")"
  echo "0 passed, 1 failed"
  exit 1
fi
for i in $(seq 1 100); do [ -s "$work/nginx.pid" ] && break; sleep 0.05; done

passed=0
failed=0
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
    echo "PASS $client via-nginx/$transport $name"
    passed=$((passed + 1))
  else
    echo "FAIL $client via-nginx/$transport $name: exit $rc: $(echo "$out" | tail -1)"
    failed=$((failed + 1))
  fi
}

for name in "${cases[@]}"; do run_case h2rpc h2c "$name"; done
for name in "${cases[@]}"; do run_case h2rpc tls "$name"; done
if [ -n "${client_bin[grpcpp]:-}" ]; then
  for name in "${cases[@]}"; do run_case grpcpp h2c "$name"; done
  for name in "${cases[@]}"; do run_case grpcpp tls "$name"; done
fi
if [ "$failed" -ne 0 ]; then
  echo "--- nginx error log (last lines)"
  tail -20 "$work/nginx-error.log"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
