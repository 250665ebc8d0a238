#!/usr/bin/env bash
# Bench smoke (issue #7): every benchmark scenario of bench/compare.sh for about a second on the
# build the test command already made (correctness only, no speed asserted): every client x server
# pair (h2rpc, grpc++) for every mode exits 0 with errors 0 and the server's counters match the
# client's; h2load against each server is verified by DATA bytes and the server's unary counter;
# the floor programs and the footprint helpers (100 connections, 1,000 open streams) run.
# The grpc-js client (peers/grpcjs, installed as 42-interop-grpcjs.sh does) also drives the h2rpc
# server in every scenario: a load test by an implementation that shares no code with h2rpc.
# Bounded: the whole stage is killed after 5 minutes (it takes about 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
if [ ! -x "$build/bench/h2rpc-bench-server" ] || [ ! -x "$build/bench/h2rpc-bench-client" ]; then
  echo "bench smoke: no h2rpc bench programs in $build (build it first)" >&2
  exit 1
fi
# shellcheck source=scripts/npm-peer.sh
. scripts/npm-peer.sh
install_npm_peer peers/grpcjs "$build/grpcjs"
GRPCJS_NODE_MODULES="$(cd "$build/grpcjs" && pwd)/node_modules"
export GRPCJS_NODE_MODULES
exec timeout -k 10 300 /usr/bin/python3 bench/compare.py --smoke --build "$build" \
  --grpcjs-client peers/grpcjs/grpcjs-bench-client
