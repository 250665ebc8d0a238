#!/usr/bin/env bash
# Every gRPC interop case through nginx, a real gRPC proxy (grpc_pass), in front of the h2rpc
# interop server: over h2c and over TLS, h2rpc and grpc++ clients (tests/proxy/proxy_lib.sh).
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

run_all_cases "$work/nginx-error.log"
