#!/usr/bin/env bash
# Every interop case through HAProxy (HTTP/2 both sides, its own HTTP/2 implementation), over
# h2c and TLS, h2rpc and grpc++ clients to the h2rpc server, on the main build dir. See
# tests/proxy/haproxy_proxy.sh.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
exec tests/proxy/haproxy_proxy.sh build
