#!/usr/bin/env bash
# Interop with grpcio, gRPC's Python binding over its C core (Debian's python3-grpcio 1.51), the
# peer a Python test harness reaches for: its interop client against the h2rpc server, the
# h2rpc client against its interop server, and grpcio against itself as the control, over
# plaintext, TLS and TLS with gRPC's test credentials; then grpcio's chaos client against the
# h2rpc bench server (also shut down under load, and ending every connection 300 ms old with a
# graceful GOAWAY) and against grpc++'s (control). Its first run
# found that gRPC's C core resets streams it never opened when a cancel races their HEADERS,
# on which nghttp2 ended whole connections (codec/idle_reset_filter.h now drops those resets).
# peers/grpcio/build.sh installs grpcio from Debian if missing and generates the stubs offline
# into BUILD_DIR/grpcio (never into the source tree). H2RPC_GRPCIO_CHAOS=0 skips chaos.
exec "$(dirname "$0")/../../tests/interop/peer_stage.sh" grpcio 2
