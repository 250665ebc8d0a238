#!/usr/bin/env bash
# Interop with grpc-java (Debian's libgrpc-java 1.41 with its Netty transport, on the JDK), an
# implementation sharing no code with h2rpc, grpc++, grpc-js or grpc-go: its interop client
# against the h2rpc server, the h2rpc client against its interop server, and grpc-java against
# itself as the control, over plaintext, TLS and TLS with gRPC's test credentials; then
# grpc-java's chaos client against the h2rpc bench server (also shut down under load) and
# grpc++'s (control).
# peers/grpcjava/build.sh installs the JDK and grpc-java from Debian if missing and builds the
# peers offline into BUILD_DIR/grpcjava (never into the source tree). H2RPC_GRPCJAVA_CHAOS=0
# skips chaos.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
peers/grpcjava/build.sh "$build/grpcjava"
status=0
tests/interop/run_matrix.sh "$build" grpcjava:h2rpc h2rpc:grpcjava grpcjava:grpcjava || status=1
. tests/interop/peer_lib.sh

if [ "${H2RPC_GRPCJAVA_CHAOS:-1}" != 0 ]; then
  chaos grpcjava h2rpc "$build/bench/h2rpc-bench-server" || status=1
  chaos grpcjava grpcpp "$build/peers/grpcpp/grpcpp-bench-server" || status=1
  CHAOS_STOP_AFTER=3 chaos grpcjava h2rpc "$build/bench/h2rpc-bench-server" || status=1
fi
exit "$status"
