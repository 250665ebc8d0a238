#!/usr/bin/env bash
# Builds the grpc-go interop peers into OUT_DIR (never into the source tree):
#   peers/grpcgo/build.sh OUT_DIR
#     -> OUT_DIR/grpcgo-interop-client, grpcgo-interop-server, grpcgo-chaos-client,
#        grpcgo-health-client, grpcgo-bench-server
# grpc-go, its dependencies and the Go toolchain come from Debian (golang-google-grpc-dev 1.33,
# Go 1.19), installed here if missing; the build is offline, in GOPATH mode over
# /usr/share/gocode as Debian's own Go packages build. The interop messages are generated from
# grpc-proto's grpc/testing/*.proto, the bench messages from protos/bench/bench.proto (the
# contract's copy), with Debian's protoc-gen-go (plugins=grpc).
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)

packages=(golang-go golang-google-grpc-dev golang-goprotobuf-dev protobuf-compiler grpc-proto)
"$here/../../scripts/apt-install.sh" grpcgo "${packages[@]}"

unformatted=$(gofmt -l "$here")
[ -z "$unformatted" ] || { echo "grpcgo: not gofmt-formatted: $unformatted" >&2; exit 1; }

gopath="$out/gopath"
pkg=h2rpcpeer
rm -rf "${gopath:?}/src/$pkg"
mkdir -p "$gopath/src/$pkg/grpc_testing" "$gopath/src/$pkg/bench" "$gopath/gen"
protos=/usr/share/grpc-proto
mapping=""
for p in empty messages test; do mapping="$mapping,Mgrpc/testing/$p.proto=$pkg/grpc_testing"; done
protoc -I"$protos" --go_out="plugins=grpc$mapping:$gopath/gen" \
  "$protos"/grpc/testing/{empty,messages,test}.proto
cp "$gopath"/gen/grpc/testing/*.pb.go "$gopath/src/$pkg/grpc_testing/"
protoc -I"$here/../../protos/bench" --go_out="plugins=grpc,Mbench.proto=$pkg/bench:$gopath/gen" bench.proto
cp "$gopath"/gen/bench.pb.go "$gopath/src/$pkg/bench/"
mkdir -p "$gopath/src/$pkg/testcreds"
cp "$here/testcreds/testcreds.go" "$gopath/src/$pkg/testcreds/"
programs=(interop_client interop_server chaos_client health_client bench_server)
for program in "${programs[@]}"; do
  mkdir -p "$gopath/src/$pkg/$program"
  cp "$here/$program/main.go" "$gopath/src/$pkg/$program/"
done

export GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOCACHE="$out/gocache" GOFLAGS=
export GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0
for program in "${programs[@]}"; do
  go build -o "$out/grpcgo-${program//_/-}" "$pkg/$program"
done
echo "grpcgo: built grpcgo-interop-client, -interop-server, -chaos-client, -health-client and -bench-server in $out ($(go version | cut -d' ' -f3))"
