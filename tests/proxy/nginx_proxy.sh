#!/usr/bin/env bash
# Every gRPC interop case through nginx, a real gRPC proxy (grpc_pass), in front of the h2rpc
# interop server: over h2c and over TLS, the h2rpc client and every peer client built
# (tests/proxy/proxy_lib.sh); then h2rpc's chaos client through it to the h2rpc bench server.
#
#   tests/proxy/nginx_proxy.sh BUILD_DIR
#
# Prints "PASS client via-nginx/transport case" or "FAIL ...: reason" per case and ends with
# "N passed, M failed".
set -uo pipefail
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "$0: nginx not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
PROXY=nginx
# shellcheck source-path=SCRIPTDIR source=proxy_lib.sh
source "$(dirname "$0")/proxy_lib.sh"

# The bench server too, for the chaos run below (its own location on the h2c port).
bench_bin=$build/bench/h2rpc-bench-server
chaos_bin=$build/bench/h2rpc-chaos-client
bench_upstream=""
if [ -x "$bench_bin" ] && [ -x "$chaos_bin" ]; then
  "$bench_bin" --port 0 >"$work/bench.out" 2>"$work/bench.err" &
  pids+=($!)
  for _ in $(seq 1 100); do
    bench_upstream=$(sed -n 's/.*"event":"listening","port":\([0-9]*\).*/\1/p' "$work/bench.out")
    [ -n "$bench_upstream" ] && break
    sleep 0.05
  done
fi
bench_location=""
[ -n "$bench_upstream" ] &&
  bench_location="location /bench.Bench/ { grpc_pass grpc://127.0.0.1:$bench_upstream; }"

mkdir -p "$work/nginx-temp"
# As root, nginx's workers would run as an unprivileged user that cannot enter $work.
user_line=""
[ "$(id -u)" -eq 0 ] && user_line="user root;"
cat >"$work/nginx.conf" <<EOF
$user_line
daemon off;
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
    $bench_location
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
"$nginx" -c "$work/nginx.conf" -p "$work" -e "$work/nginx-error.log" 2>"$work/nginx.start" &
pids+=($!)
if ! wait_for_port "$h2c_port" || ! wait_for_port "$tls_port"; then
  give_up "nginx did not start: $(tail -2 "$work/nginx.start" "$work/nginx-error.log")"
fi

# Chaos through nginx: 4,000 calls of all kinds, 64 threads, random deadlines and cancels;
# every call must end OK, CANCELLED or DEADLINE_EXCEEDED with exact contents. nginx ends each
# client connection with GOAWAY after 1,000 requests (keepalive_requests), so calls that had
# just started, streaming ones included, must move to the next connection without a trace.
if [ -n "$bench_upstream" ]; then
  if timeout 120 "$chaos_bin" --target "127.0.0.1:$h2c_port" >"$work/chaos.out" 2>"$work/chaos.err"
  then
    echo "PASS h2rpc via-nginx/h2c chaos: $(cat "$work/chaos.out")"
    passed=$((passed + 1))
  else
    echo "FAIL h2rpc via-nginx/h2c chaos: $(tail -12 "$work/chaos.err") $(cat "$work/chaos.out")"
    failed=$((failed + 1))
  fi
fi

run_all_cases "$work/nginx-error.log"
