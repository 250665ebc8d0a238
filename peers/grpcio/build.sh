#!/usr/bin/env bash
# Builds the grpcio (Python) interop peers into OUT_DIR (never into the source tree):
#   peers/grpcio/build.sh OUT_DIR
#     -> OUT_DIR/grpcio-interop-client, grpcio-interop-server, grpcio-chaos-client (launchers)
#        and OUT_DIR/gen/ (the messages and stubs they import)
# grpcio and protobuf for Python come from Debian (python3-grpcio 1.51, python3-protobuf),
# installed here if missing; the stubs are generated offline with protoc and Debian's
# grpc_python_plugin from grpc-proto's grpc/testing/*.proto, written as the package grpc_testing
# (grpc/testing/ would collide with grpcio's own package "grpc"), and from protos/bench/bench.proto
# (the contract's copy).
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
python=/usr/bin/python3  # Debian's, which python3-grpcio installs into

packages=(python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc grpc-proto)
"$here/../../scripts/apt-install.sh" grpcio "${packages[@]}"

gen="$out/gen"
rm -rf "$gen"
mkdir -p "$gen/grpc_testing"
protos=/usr/share/grpc-proto
protoc -I"$protos" --python_out="$gen" --grpc_python_out="$gen" \
  --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin \
  "$protos"/grpc/testing/{empty,messages,test}.proto
for f in "$gen"/grpc/testing/*.py; do
  sed 's/^from grpc\.testing import /from grpc_testing import /' "$f" >"$gen/grpc_testing/$(basename "$f")"
done
touch "$gen/grpc_testing/__init__.py"
rm -rf "$gen/grpc"
protoc -I"$here/../../protos/bench" --python_out="$gen" --grpc_python_out="$gen" \
  --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin bench.proto

for program in interop_client interop_server chaos_client; do
  launcher="$out/grpcio-${program//_/-}"
  printf '#!/bin/sh\nPYTHONPATH=%s:%s exec %s %s "$@"\n' "$gen" "$here" "$python" \
    "$here/$program.py" >"$launcher"
  chmod +x "$launcher"
done
"$python" - "$gen" "$here" <<'PY'
import sys
sys.path[:0] = sys.argv[1:]
import grpc
import bench_pb2_grpc  # noqa: F401 (a broken generation fails here, not in every case)
from grpc_testing import test_pb2_grpc  # noqa: F401
print(f"grpcio: built grpcio-interop-client, -interop-server and -chaos-client "
      f"(grpcio {grpc.__version__})")
PY
