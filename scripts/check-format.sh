#!/usr/bin/env bash
# Fails if any tracked C++ file differs from clang-format-14's output (.clang-format).
# Golden files of generated code are compared byte for byte elsewhere and are skipped here.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
bad=0
while IFS= read -r f; do
  [ -f "$f" ] || continue
  if ! clang-format-14 --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not clang-formatted: $f (run: clang-format-14 -i $f)"
    bad=1
  fi
done < <(git ls-files '*.cc' '*.h' '*.cpp' '*.hpp' | grep -v '/golden/')
exit $bad
