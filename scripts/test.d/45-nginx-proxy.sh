#!/usr/bin/env bash
# Every interop case through nginx (grpc_pass), over h2c and TLS, h2rpc and grpc++ clients to
# the h2rpc server, on the main build dir. See tests/proxy/nginx_proxy.sh.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
exec tests/proxy/nginx_proxy.sh build
