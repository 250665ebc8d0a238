#!/usr/bin/env bash
# Every gRPC interop case through HAProxy, a real gRPC proxy (HTTP/2 on both sides, "proto h2"
# to the server), in front of the h2rpc interop server: over h2c and over TLS, the h2rpc client
# and every peer client built (tests/proxy/proxy_lib.sh). HAProxy parses and rebuilds every
# HTTP/2 frame, trailers included, with its own HTTP/2 stack, not nghttp2.
#
#   tests/proxy/haproxy_proxy.sh BUILD_DIR
#
# Prints "PASS client via-haproxy/transport case" or "FAIL ...: reason" per case ("KNOWN ...:
# why" for HAProxy's own bug listed in proxy_lib.sh) and ends with "N passed, M failed".
set -uo pipefail
haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)
[ -x "$haproxy" ] || { echo "$0: haproxy not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
PROXY=haproxy
# shellcheck source-path=SCRIPTDIR source=proxy_lib.sh
source "$(dirname "$0")/proxy_lib.sh"

# HAProxy takes the certificate and its key from one file.
cat "$work/certs/server.pem" "$work/certs/server.key" >"$work/certs/server-with-key.pem"
cat >"$work/haproxy.cfg" <<EOF
global
  log stderr format raw local0 info
defaults
  mode http
  log global
  option httplog
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend h2c
  bind 127.0.0.1:$h2c_port proto h2
  default_backend plain
frontend tls
  bind 127.0.0.1:$tls_port ssl crt $work/certs/server-with-key.pem alpn h2
  default_backend tls
backend plain
  server interop 127.0.0.1:$plain_upstream proto h2
backend tls
  server interop 127.0.0.1:$tls_upstream proto h2 ssl alpn h2 verify required ca-file $work/certs/ca.pem sni str(localhost) verifyhost localhost
EOF
"$haproxy" -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids+=($!)
if ! wait_for_port "$h2c_port" || ! wait_for_port "$tls_port"; then
  give_up "haproxy did not start: $(tail -3 "$work/haproxy.log")"
fi

run_all_cases "$work/haproxy.log"
