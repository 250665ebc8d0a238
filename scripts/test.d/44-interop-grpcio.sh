#!/usr/bin/env bash
# Interop with grpcio, gRPC's Python binding over its C core (Debian's python3-grpcio 1.51), the
# peer a Python test harness reaches for: its interop client against the h2rpc server, the
# h2rpc client against its interop server, and grpcio against itself as the control, over
# plaintext, TLS and TLS with gRPC's test credentials; then grpcio's chaos client against the
# h2rpc bench server (also shut down under load) and against grpc++'s (control).
# peers/grpcio/build.sh installs grpcio from Debian if missing and generates the stubs offline
# into BUILD_DIR/grpcio (never into the source tree). H2RPC_GRPCIO_CHAOS=0 skips chaos.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
peers/grpcio/build.sh "$build/grpcio"
status=0
tests/interop/run_matrix.sh "$build" grpcio:h2rpc h2rpc:grpcio grpcio:grpcio || status=1
. tests/interop/peer_lib.sh

if [ "${H2RPC_GRPCIO_CHAOS:-1}" != 0 ]; then
  # gRPC's C core resets streams it never opened when a cancel races its HEADERS; before the
  # server dropped such resets (codec/idle_reset_filter.h), nghttp2 ended whole connections here.
  chaos grpcio h2rpc "$build/bench/h2rpc-bench-server" || status=1
  chaos grpcio grpcpp "$build/peers/grpcpp/grpcpp-bench-server" || status=1
  CHAOS_STOP_AFTER=2 chaos grpcio h2rpc "$build/bench/h2rpc-bench-server" || status=1
fi
exit "$status"
