#!/usr/bin/env bash
# Interop with grpcio, gRPC's Python binding over its C core (Debian's python3-grpcio 1.51), the
# peer a Python test harness reaches for: its interop client against the h2rpc server, the
# h2rpc client against its interop server, and grpcio against itself as the control, over
# plaintext, TLS and TLS with gRPC's test credentials.
# peers/grpcio/build.sh installs grpcio from Debian if missing and generates the stubs offline
# into BUILD_DIR/grpcio (never into the source tree).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
peers/grpcio/build.sh "$build/grpcio"
exec tests/interop/run_matrix.sh "$build" grpcio:h2rpc h2rpc:grpcio grpcio:grpcio
