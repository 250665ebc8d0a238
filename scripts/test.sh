#!/usr/bin/env bash
# The project's test command (README, .ci/run): from a clean checkout on Debian 12 it installs
# what it needs, then builds and runs every check. Ends with the line "N passed, M failed".
#
#   scripts/test.sh            everything CI runs (well under 30 minutes on 2 cores)
#   scripts/test.sh --quick    build + unit/integration tests only (no sanitizers, no fuzzing)
#   FUZZ_SECONDS=600 scripts/test.sh   longer fuzzing (default 10 s per harness here)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
  esac
done

JOBS=${JOBS:-2}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
passed=0
failed=0
failures=()
details=()

stage() {  # stage NAME COMMAND...: runs one check, counts it, keeps going on failure
  local name=$1
  shift
  echo "=== $name"
  local start=$SECONDS
  if "$@"; then
    echo "=== PASS $name ($((SECONDS - start)) s)"
    passed=$((passed + 1))
  else
    echo "=== FAIL $name ($((SECONDS - start)) s)"
    failed=$((failed + 1))
    failures+=("$name")
  fi
}

# meson test wrapper that adds the individual test counts to the totals.
meson_tests() {  # meson_tests BUILD_DIR [meson test args...]
  local dir=$1
  shift
  local log
  log=$(mktemp)
  meson test -C "$dir" --num-processes 1 --print-errorlogs "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local ok fail
  ok=$(grep -E '^Ok:' "$log" | tail -1 | awk '{print $2}')
  fail=$(grep -E '^Fail:' "$log" | tail -1 | awk '{print $2}')
  # Name each failed or timed-out test in the closing summary, not only in the counts.
  local line
  while IFS= read -r line; do
    failures+=("$dir: $line")
  done < <(grep -E '^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT|ERROR) ' "$log" | sed -E 's/ +/ /g' | sort -u)
  # CI keeps only the tail of this output: repeat what each failure said next to the summary.
  if [ "$rc" -ne 0 ]; then
    while IFS= read -r line; do
      details+=("$dir: $line")
    done < <(awk '/TEST CASE:/ { pending = $0; next }  # printed only if an error follows
                  /: ERROR:|: FATAL ERROR:|  values:|runtime error|Sanitizer|^FATAL|logged: / {
                    if (pending != "") print pending
                    pending = ""
                    print
                  }' "$log" | head -n 40)
    # A killed test (timeout, sanitizer halt) cannot report its case; the listener in
    # tests/case_trace.h prints "[case] NAME" as each starts, so name the last one per test.
    while IFS= read -r line; do
      details+=("$dir: $line")
    done < <(awk '/^ *[0-9]+\/[0-9]+ / { test = $0; sub(/^ *[0-9]+\/[0-9]+ +/, "", test)
                                         sub(/ +(OK|FAIL|TIMEOUT|ERROR|SKIP) .*$/, "", test) }
                  /^\[case\] / { last[test] = $0 }
                  END { for (t in last) print t ": last case started: " substr(last[t], 8) }' "$log")
  fi
  rm -f "$log"
  # Individual meson tests count separately from the stage itself.
  passed=$((passed + ${ok:-0}))
  failed=$((failed + ${fail:-0}))
  return "$rc"
}

setup() {  # setup DIR [meson setup args...]: configure once, reconfigure if it exists
  local dir=$1
  shift
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@"
  fi
}

stage "install dependencies" scripts/install-deps.sh
stage "clang-format" scripts/check-format.sh

build_main() { setup build -Dwerror=true && ninja -C build -j"$JOBS"; }
# The sanitizer builds compile at -O1 with line tables only (-g1), as the sanitizers' own
# documentation suggests: reports keep function names and file:line, and compiling takes half
# the time of -O2 -g (ASan+UBSan at -O2 -g was the longest stage of a CI run: 17 of 40 minutes).
sanitizer_build_args=(-Doptimization=1 -Ddebug=false -Dcpp_args=-g1 -Dc_args=-g1
  -Db_lundef=false -Dgrpcpp_peers=disabled -Dexamples=disabled)
build_asan() {
  setup build-asan -Db_sanitize=address,undefined "${sanitizer_build_args[@]}" &&
    ninja -C build-asan -j"$JOBS"
}
build_tsan() {
  setup build-tsan -Db_sanitize=thread "${sanitizer_build_args[@]}" && ninja -C build-tsan -j"$JOBS"
}

stage "build (debugoptimized, -Werror)" build_main
meson_tests build --no-suite soak || true

if [ "$quick" -eq 0 ]; then
  stage "build (ASan+UBSan)" build_asan
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    meson_tests build-asan --no-suite soak || true

  stage "build (TSan)" build_tsan
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    meson_tests build-tsan --suite integration --suite codegen --suite unit --suite services || true

  stage "fuzz every harness for ${FUZZ_SECONDS} s" scripts/fuzz.sh "$FUZZ_SECONDS"
fi

for extra in scripts/test.d/*.sh; do
  [ -x "$extra" ] || continue
  stage "$(basename "$extra" .sh)" "$extra"
done

echo
if [ ${#details[@]} -gt 0 ]; then
  printf '  %s\n' "${details[@]}"
fi
if [ ${#failures[@]} -gt 0 ]; then
  printf 'failed: %s\n' "${failures[@]}"
fi
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
