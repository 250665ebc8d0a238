#!/usr/bin/env bash
# Installs the Debian 12 packages h2rpc builds, tests, fuzzes and benchmarks with.
# Idempotent: installs only what is missing; runs apt-get update only when it must.
set -euo pipefail

packages=(
  meson ninja-build pkg-config g++ cmake
  libnghttp2-dev libssl-dev libprotobuf-dev libprotoc-dev protobuf-compiler zlib1g-dev
  doctest-dev
  clang libclang-rt-14-dev clang-format-14
  libgrpc++-dev protobuf-compiler-grpc grpc-proto
  # gRPC's interop test credentials (grpc-go's testdata: ca.pem, server1.pem/.key), which the
  # interop programs use for a bare --use_tls / --use_test_ca (tests/interop/grpc_test_credentials.h)
  golang-google-grpc-dev
  nghttp2-client nghttp2-server python3-h2 openssl ca-certificates
  gcovr valgrind
  nginx-light haproxy
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# nginx and haproxy are test peers (tests/proxy), not services: keep their packages from starting
# one (on port 80, Debian's policy-rc.d mechanism), unless the machine already has a policy.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  trap '$SUDO rm -f "$policy"' EXIT
fi
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
