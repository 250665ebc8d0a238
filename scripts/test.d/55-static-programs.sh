#!/usr/bin/env bash
# Fully static programs (README "Fully static programs"): the examples and the bench server
# built with Meson's own options only (prefer_static, default_library=static, -static), checked
# to have no program interpreter (nothing loaded at run time), then the examples' own tests run
# against those binaries. Constrained deployments ship programs like these.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${STATIC_BUILD_DIR:-build-static}
jobs=${JOBS:-2}
opts=(-Dprefer_static=true -Ddefault_library=static -Dcpp_link_args=-static
      -Dtests=disabled -Dgrpcpp_peers=disabled --buildtype=release)
if [ -d "$dir" ]; then
  meson setup --reconfigure "$dir" "${opts[@]}" >/dev/null
else
  meson setup "$dir" "${opts[@]}" >/dev/null
fi
# glibc's linker warnings about getaddrinfo/dlopen in static programs are expected (README).
ninja -C "$dir" -j"$jobs" >"$dir/static-build.log" 2>&1 || { tail -40 "$dir/static-build.log"; exit 1; }

programs=(examples/helloworld/greeter_server examples/helloworld/greeter_client
          examples/route_guide/route_guide_server examples/route_guide/route_guide_client
          examples/multiplex/multiplex_server examples/multiplex/multiplex_client
          services/health/h2rpc-health-probe plugin/protoc-gen-h2rpc
          bench/h2rpc-bench-server bench/h2rpc-bench-client)
for p in "${programs[@]}"; do
  [ -x "$dir/$p" ] || { echo "missing: $dir/$p"; exit 1; }
  if readelf -l "$dir/$p" | grep -q 'program interpreter'; then
    echo "not static: $dir/$p"
    exit 1
  fi
  printf '%-45s static, %s bytes\n' "$p" "$(stat -c %s "$dir/$p")"
done
meson test -C "$dir" --suite examples --print-errorlogs
