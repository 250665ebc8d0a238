#!/usr/bin/env bash
# Bench smoke (issue #7): every benchmark scenario of bench/compare.sh for about a second on the
# build the test command already made (correctness only, no speed asserted): every client x server
# pair (h2rpc, grpc++) for every mode exits 0 with errors 0 and the server's counters match the
# client's; h2load against each server is verified by DATA bytes and the server's unary counter;
# the floor programs and the footprint helpers (100 connections, 1,000 open streams) run.
# Bounded: the whole stage is killed after 5 minutes (it takes about 1.5).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
if [ ! -x "$build/bench/h2rpc-bench-server" ] || [ ! -x "$build/bench/h2rpc-bench-client" ]; then
  echo "bench smoke: no h2rpc bench programs in $build (build it first)" >&2
  exit 1
fi
exec timeout -k 10 300 /usr/bin/python3 bench/compare.py --smoke --build "$build"
