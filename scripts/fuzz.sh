#!/usr/bin/env bash
# Runs every libFuzzer harness for SECONDS each (default 30) and fails on any crash: one per codec
# parser, and fuzz_server / fuzz_client, which drive a whole running server or client over
# loopback TCP, and their TLS twins fuzz_server_tls / fuzz_client_tls.
#
#   scripts/fuzz.sh [SECONDS]
#
# Builds $FUZZ_BUILD_DIR (default build-fuzz) first if it is not configured yet, with clang,
# ASan and UBSan. Each harness starts from its committed seed corpus (fuzz/corpus/<name>, read
# only) plus a working corpus under the build dir that grows across runs. Crash inputs land in
# fuzz/ as crash-<sha1> (git-ignored). Prints executions per second for every harness.
set -euo pipefail

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "usage: $0 [SECONDS]  (a positive number of seconds per harness)" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
harnesses=(fuzz_deframer fuzz_timeout fuzz_percent fuzz_metadata fuzz_headers fuzz_decompress
  fuzz_idle_reset_filter fuzz_server fuzz_server_tls fuzz_client fuzz_client_tls)

if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ meson setup "$build" "$root" \
    -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dtests=disabled -Dexamples=disabled -Dgrpcpp_peers=disabled
fi
# Only the harnesses (and the instrumented library copies they link).
ninja -C "$build" -j2 fuzz-all

# UBSan only reports by default; a report must fail the run like an ASan one.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

failed=()
summary=()
for name in "${harnesses[@]}"; do
  work="$build/fuzz-corpus/$name"
  log="$build/fuzz-logs/$name.log"
  mkdir -p "$work" "$(dirname "$log")"
  echo "== $name: ${seconds}s"
  dict=()
  if [ -f "$root/fuzz/$name.dict" ]; then dict=(-dict="$root/fuzz/$name.dict"); fi
  rc=0
  # -timeout: an input taking seconds is a hang worth reporting (the codec is linear; fuzz_server
  # and fuzz_client report a peer that ignores the end of the connection themselves, after 5 s).
  "$build/fuzz/$name" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 "${dict[@]}" \
    -artifact_prefix="$root/fuzz/" "$work" "$root/fuzz/corpus/$name" >"$log" 2>&1 || rc=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  corpus="$(find "$work" -type f | wc -l)"
  if [ "$rc" -ne 0 ]; then
    failed+=("$name")
    summary+=("$(printf '%-16s FAILED (exit %d), see %s' "$name" "$rc" "$log")")
    grep -E "ERROR|invariant violated|runtime error|Test unit written" "$log" | head -n 20 || true
  else
    summary+=("$(printf '%-16s %10s exec/s %12s runs %6s corpus files' "$name" "${rate:-?}" \
      "${execs:-?}" "$corpus")")
  fi
done

echo
echo "== summary (${seconds}s per harness)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -ne 0 ]; then
  echo "FAILED: ${failed[*]}" >&2
  exit 1
fi
