#!/usr/bin/env bash
# Meson consumability test (issue #4): builds tests/consumer/, a project outside h2rpc that
# compiles its own .proto with protoc-gen-h2rpc, serves it and calls it once, in two ways:
#
#   installed   h2rpc configured with --prefix=<tmp>/prefix, built and `meson install`ed; the
#               consumer finds it through PKG_CONFIG_PATH alone (--wrap-mode=nofallback) and
#               the plugin through the .pc file's prefix (the docs/MESON.md recipe)
#   subproject  this checkout symlinked as the consumer's subprojects/h2rpc and used through
#               dependency('h2rpc', fallback : ['h2rpc', 'h2rpc_dep']) (--force-fallback-for)
#   lite        the subproject configured with -Dh2rpc:protobuf_runtime=lite: the consumer
#               generates lite messages (--cpp_opt=lite, --h2rpc_opt=lite) and the program must
#               link libprotobuf-lite and not libprotobuf
#
# Prints PASS or FAIL per variant (with the log tail on failure) and exits non-zero if any
# failed. Everything happens in a temporary directory, removed at the end (KEEP=1 keeps it).
#
#   tests/consumer/run.sh [installed|subproject|lite]...     default: all three
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
jobs=${JOBS:-2}
variants=("$@")
[ ${#variants[@]} -eq 0 ] && variants=(installed subproject lite)

work=$(mktemp -d "${TMPDIR:-/tmp}/h2rpc-consumer.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
  echo "consumer: keeping $work"
else
  trap 'rm -rf "$work"' EXIT
fi

# h2rpc's own tests, examples and reference peers are not what is being tested here.
h2rpc_options=(-Dtests=disabled -Dexamples=disabled -Dgrpcpp_peers=disabled)

# consumer_source DIR: a fresh copy of the consumer project (without any build output).
consumer_source() {
  mkdir -p "$1"
  cp "$here/meson.build" "$here/greeter.proto" "$here/main.cc" "$1/"
}

# build_and_run SRC BUILD [meson setup args...]: configure, build and run the consumer.
build_and_run() {
  local src=$1 build=$2
  shift 2
  meson setup "$build" "$src" "$@" &&
    ninja -C "$build" -j"$jobs" &&
    "$build/consumer"
}

variant_installed() {
  local prefix=$work/prefix
  meson setup "$work/h2rpc-build" "$repo" --prefix="$prefix" "${h2rpc_options[@]}" &&
    ninja -C "$work/h2rpc-build" -j"$jobs" &&
    meson install -C "$work/h2rpc-build" --quiet || return 1

  local pc
  pc=$(find "$prefix" -name h2rpc.pc -print -quit)
  if [ -z "$pc" ]; then
    echo "no h2rpc.pc under $prefix"
    return 1
  fi
  for f in include/h2rpc/h2rpc.h include/h2rpc/rpc/channel.h include/h2rpc/codec/status.h \
    bin/protoc-gen-h2rpc; do
    if [ ! -e "$prefix/$f" ]; then
      echo "not installed: $prefix/$f"
      return 1
    fi
  done

  consumer_source "$work/consumer-installed"
  PKG_CONFIG_PATH="$(dirname "$pc")" build_and_run "$work/consumer-installed" \
    "$work/consumer-installed/build" --wrap-mode=nofallback
}

variant_subproject() {
  local src=$work/consumer-subproject
  consumer_source "$src"
  mkdir -p "$src/subprojects"
  ln -s "$repo" "$src/subprojects/h2rpc"
  build_and_run "$src" "$src/build" --force-fallback-for=h2rpc
}

variant_lite() {
  local src=$work/consumer-lite
  consumer_source "$src"
  mkdir -p "$src/subprojects"
  ln -s "$repo" "$src/subprojects/h2rpc"
  build_and_run "$src" "$src/build" --force-fallback-for=h2rpc -Dh2rpc:protobuf_runtime=lite ||
    return 1
  local libs
  libs=$(ldd "$src/build/consumer") || return 1
  if ! grep -q 'libprotobuf-lite\.so' <<<"$libs" || grep -q 'libprotobuf\.so' <<<"$libs"; then
    echo "lite consumer should link libprotobuf-lite and not libprotobuf; ldd says:"
    echo "$libs"
    return 1
  fi
  echo "consumer links $(grep -o 'libprotobuf[-a-z]*\.so[.0-9]*' <<<"$libs" | sort -u | tr '\n' ' ')"
}

failed=0
for variant in "${variants[@]}"; do
  case "$variant" in
    installed) label="installed h2rpc via pkg-config" ;;
    subproject) label="h2rpc as a Meson subproject" ;;
    lite) label="h2rpc subproject with protobuf_runtime=lite" ;;
    *)
      echo "usage: $0 [installed|subproject|lite]..." >&2
      exit 2
      ;;
  esac
  log=$work/$variant.log
  start=$SECONDS
  if "variant_$variant" >"$log" 2>&1; then
    echo "PASS consumer ($label, $((SECONDS - start)) s)"
  else
    echo "FAIL consumer ($label, $((SECONDS - start)) s); last lines of $log:"
    tail -n 40 "$log" | sed 's/^/    /'
    failed=$((failed + 1))
  fi
done
exit $((failed > 0))
