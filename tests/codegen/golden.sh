#!/usr/bin/env bash
# Golden-file test of protoc-gen-h2rpc: runs protoc with the plugin on the test protos and
# compares every .h2rpc.h/.h2rpc.cc it writes with golden/, byte for byte; then checks that the
# plugin rejects what it must (a method-name clash, an unknown option) with a clear message, and
# that its lite option drops only the descriptor-table reference.
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
expect_error "unknown option" 'protoc-gen-h2rpc takes no option but "lite", got "speed"' \
  --h2rpc_out=speed:"$out" no_package.proto

# --h2rpc_opt=lite (for messages generated with --cpp_opt=lite) writes the same code without the
# descriptor-table reference, which the lite runtime's .pb.cc does not define.
lite_out=$out/lite
mkdir -p "$lite_out"
"$protoc" --proto_path="$here" --plugin=protoc-gen-h2rpc="$plugin" --h2rpc_opt=lite \
  --h2rpc_out="$lite_out" codegen_test.proto
keep_linked='KeepLinked(&::descriptor_table_'
if ! grep -qF "$keep_linked" "$here/golden/codegen_test.h2rpc.cc"; then
  echo "FAIL: golden/codegen_test.h2rpc.cc has no descriptor-table line; update the lite check"
  failed=1
fi
for f in codegen_test.h2rpc.h codegen_test.h2rpc.cc; do
  if ! diff -u <(grep -vF "$keep_linked" "$here/golden/$f") "$lite_out/$f"; then
    echo "FAIL: --h2rpc_opt=lite: $f is not golden/$f without its descriptor-table line"
    failed=1
  fi
done

if [ "$failed" -ne 0 ]; then
  echo "(if the change is intended: ninja -C <build> codegen-update-golden)"
  exit 1
fi
echo "PASS: $(echo "$generated" | wc -l) generated files match golden/; lite output as expected;" \
  "errors reported as expected"
