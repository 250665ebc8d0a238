#!/usr/bin/env bash
# The benchmark command: h2rpc vs grpc++ side by side, ONE markdown table (also written to
# bench/results/latest.md with the date and the command).
#
#   bench/compare.sh                 RUNS=3 runs per figure, SECONDS=2 s windows (defaults)
#   RUNS=5 SECONDS=3 bench/compare.sh
#   NO_CALLGRIND=1 bench/compare.sh  skip the (slow, ~5 min) callgrind section
#   FAST_WAKE=1 bench/compare.sh     with the KVM guest's halt polling on (root; see below)
#   SMOKE=1 BUILD_DIR=build bench/compare.sh   correctness only (what CI runs, no timing)
#
# Builds build-release (buildtype=release, grpc++ peers on), build-release-shared
# (default_library=shared, for the size of libh2rpc.so) and build-release-lite
# (protobuf_runtime=lite, for the bench server's footprint), installs grpc-js (npm) and builds
# grpc-go (peers/grpcgo/build.sh) for further servers, then runs bench/compare.py. Every figure is verified (server counters vs client,
# h2load DATA bytes); see bench/compare.py.

# bash makes $SECONDS a clock; the user's value is only in the environment string.
bench_seconds=$(printenv SECONDS || true)
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-2}
RUNS=${RUNS:-3}
bench_seconds=${bench_seconds:-2}

scripts/install-deps.sh

setup() {  # setup DIR [meson setup args...]: configure once, reconfigure if it exists
  local dir=$1
  shift
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

if [ "${SMOKE:-0}" = 1 ]; then
  build=${BUILD_DIR:-build}
  [ -f "$build/build.ninja" ] || setup "$build"
  ninja -C "$build" -j"$JOBS" >/dev/null
  exec /usr/bin/python3 bench/compare.py --smoke --build "$build"
fi

build=${BUILD_DIR:-build-release}
echo "compare: building $build and $build-shared (release)" >&2
setup "$build" --buildtype=release -Dtests=disabled -Dexamples=disabled -Dgrpcpp_peers=enabled
ninja -C "$build" -j"$JOBS" >/dev/null
setup "$build-shared" --buildtype=release -Ddefault_library=shared -Dtests=disabled \
  -Dexamples=disabled -Dgrpcpp_peers=disabled
meson compile -C "$build-shared" -j "$JOBS" h2rpc >/dev/null
setup "$build-lite" --buildtype=release -Dprotobuf_runtime=lite
meson compile -C "$build-lite" -j "$JOBS" h2rpc-bench-server >/dev/null

extra=()
[ "${NO_CALLGRIND:-0}" = 1 ] && extra+=(--no-callgrind)
# grpc-js (Node.js) as a third server, driven by the h2rpc client, and as a third client,
# driving the h2rpc server; left out if npm cannot install the versions
# peers/grpcjs/package-lock.json pins.
# shellcheck source=scripts/npm-peer.sh
if (. scripts/npm-peer.sh && install_npm_peer peers/grpcjs "$build/grpcjs") >&2; then
  GRPCJS_NODE_MODULES="$(cd "$build/grpcjs" && pwd)/node_modules"
  export GRPCJS_NODE_MODULES
  extra+=(--grpcjs-server peers/grpcjs/grpcjs-bench-server
    --grpcjs-client peers/grpcjs/grpcjs-bench-client)
else
  echo "compare: grpc-js could not be installed; its tables are left out" >&2
fi
# grpc-go as a further server, driven by the h2rpc client; left out if it cannot be built.
if peers/grpcgo/build.sh "$build/grpcgo" >&2; then
  extra+=(--grpcgo-server "$build/grpcgo/grpcgo-bench-server")
else
  echo "compare: grpc-go could not be built; its table is left out" >&2
fi
command="bench/compare.sh"
[ "$RUNS" != 3 ] && command="RUNS=$RUNS $command"
[ "$bench_seconds" != 2 ] && command="SECONDS=$bench_seconds $command"
out=bench/results/latest.md
# FAST_WAKE=1: the same run with the guest's halt polling on (a KVM guest's cpuidle-haltpoll:
# an idle vCPU polls up to 200 µs before it halts), so that waking an idle CPU costs little, as
# on the VMs whose TCP ping-pong floor is 20-30 µs rather than 50-60. Needs root; the previous
# value is put back when the run ends. Written to bench/results/latest-fast-wake.md.
if [ "${FAST_WAKE:-0}" = 1 ]; then
  knob=/sys/module/haltpoll/parameters/guest_halt_poll_ns
  if [ ! -w "$knob" ]; then
    echo "compare: FAST_WAKE=1 needs a writable $knob (a KVM guest with cpuidle-haltpoll, root)" >&2
    exit 1
  fi
  previous=$(cat "$knob")
  trap 'echo "$previous" >"$knob"' EXIT
  echo 200000 >"$knob"
  out=bench/results/latest-fast-wake.md
  command="FAST_WAKE=1 $command"
fi
mkdir -p bench/results
/usr/bin/python3 bench/compare.py --build "$build" --shared-build "$build-shared" \
  --lite-build "$build-lite" \
  --runs "$RUNS" --seconds "$bench_seconds" --out "$out" \
  --command "$command" "${extra[@]}"
