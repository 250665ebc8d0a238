#!/usr/bin/env bash
# Interop with grpc-java (Debian's libgrpc-java 1.41 with its Netty transport, on the JDK), an
# implementation sharing no code with h2rpc, grpc++, grpc-js or grpc-go: its interop client
# against the h2rpc server, the h2rpc client against its interop server, and grpc-java against
# itself as the control, over plaintext, TLS and TLS with gRPC's test credentials; then
# grpc-java's chaos client against the h2rpc bench server (also shut down under load, and with
# max_connection_age 300 ms) and grpc++'s (control).
# peers/grpcjava/build.sh installs the JDK and grpc-java from Debian if missing and builds the
# peers offline into BUILD_DIR/grpcjava (never into the source tree). H2RPC_GRPCJAVA_CHAOS=0
# skips chaos.
exec "$(dirname "$0")/../../tests/interop/peer_stage.sh" grpcjava 3
