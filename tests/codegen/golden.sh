#!/usr/bin/env bash
# Golden-file test of protoc-gen-h2rpc: runs protoc with the plugin on the test protos and
# compares every .h2rpc.h/.h2rpc.cc it writes with golden/, byte for byte; then checks that the
# plugin rejects what it must (a method-name clash, an option) with a clear message.
#
#   golden.sh PROTOC PLUGIN            check (meson test: codegen-golden)
#   golden.sh PROTOC PLUGIN --update   rewrite golden/ after an intended change to the output
#
# After changing plugin/generator.cc, regenerate the goldens with
#   ninja -C build codegen-update-golden
# and review the diff of tests/codegen/golden/ like any other change.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
protoc=$1
plugin=$(realpath "$2")
mode=${3:-check}
protos=(codegen_test.proto no_package.proto common/types.proto)

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$protoc" --proto_path="$here" --plugin=protoc-gen-h2rpc="$plugin" --h2rpc_out="$out" \
  "${protos[@]}"

generated=$(cd "$out" && find . -type f -name '*.h2rpc.*' | sed 's|^\./||' | sort)

if [ "$mode" = "--update" ]; then
  rm -rf "$here/golden"
  mkdir -p "$here/golden"
  (cd "$out" && cp --parents $generated "$here/golden/")
  echo "golden files rewritten in $here/golden:"
  echo "$generated"
  exit 0
fi

failed=0
expected=$(cd "$here/golden" && find . -type f | sed 's|^\./||' | sort)
if [ "$generated" != "$expected" ]; then
  echo "FAIL: generated files differ from golden/ files"
  diff <(echo "$expected") <(echo "$generated") || true
  failed=1
fi
for f in $generated; do
  if [ -f "$here/golden/$f" ] && ! diff -u "$here/golden/$f" "$out/$f"; then
    echo "FAIL: $f differs from golden/$f"
    failed=1
  fi
done

# expect_error NAME PATTERN PROTOC-ARGS...: protoc must fail and say PATTERN.
expect_error() {
  local name=$1 pattern=$2
  shift 2
  local log
  if log=$("$protoc" --proto_path="$here" --plugin=protoc-gen-h2rpc="$plugin" "$@" 2>&1); then
    echo "FAIL: $name: protoc succeeded, expected an error"
    failed=1
  elif ! grep -qF -- "$pattern" <<<"$log"; then
    echo "FAIL: $name: expected '$pattern' in:"
    echo "$log"
    failed=1
  fi
}
expect_error "method name clash" 'methods "delete" and "delete_" both become the C++ name "delete_"' \
  --h2rpc_out="$out" errors/name_clash.proto
expect_error "unknown option" 'protoc-gen-h2rpc takes no options, got "lite"' \
  --h2rpc_out=lite:"$out" no_package.proto

if [ "$failed" -ne 0 ]; then
  echo "(if the change is intended: ninja -C <build> codegen-update-golden)"
  exit 1
fi
echo "PASS: $(echo "$generated" | wc -l) generated files match golden/; errors reported as expected"
