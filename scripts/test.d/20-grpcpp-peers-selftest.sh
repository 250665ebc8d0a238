#!/usr/bin/env bash
# Control run: the grpc++ reference peers against each other (interop plaintext + TLS, bench
# counters, greeter). If this fails, the reference is broken, not h2rpc.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x build/peers/grpcpp/grpcpp-interop-server ]; then
  echo "grpc++ peers not built (grpcpp_peers disabled or libgrpc++ missing): skipped"
  exit 0
fi
exec peers/grpcpp/selftest.sh build
