#!/usr/bin/env bash
# Meson consumability (issue #4): tests/consumer/ built against an installed h2rpc (pkg-config,
# temporary prefix) and with h2rpc as a subproject; each compiles a .proto with
# protoc-gen-h2rpc and makes one call. Builds in its own temporary directories.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
exec tests/consumer/run.sh
