#!/usr/bin/env bash
# Interop matrix (issue #5): h2rpc and grpc++ clients and servers, every gRPC interop case,
# on the main build dir that scripts/test.sh has just built. See tests/interop/run_matrix.sh.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
exec tests/interop/run_matrix.sh build
