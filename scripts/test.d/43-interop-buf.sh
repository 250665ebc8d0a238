#!/usr/bin/env bash
# buf curl (connect-go's gRPC client, written in Go: shares no code with h2rpc, grpc++ or
# grpc-js) against the h2rpc example servers, knowing nothing of their .proto files: it learns
# the schema through server reflection (grpc.reflection.v1, then v1alpha) and then makes
# unary, server-, client- and bidi-streaming calls with it, as grpcurl or ghz would.
# Installs buf at the version peers/buf/package-lock.json pins into BUILD_DIR/buf (never into
# the source tree); Node.js/npm only carry the binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null 2>&1 ||
    { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends nodejs npm; }
fi
dest="$build/buf"
mkdir -p "$dest"
cp peers/buf/package.json peers/buf/package-lock.json "$dest/"
# --ignore-scripts: the postinstall step only links the platform's binary; bin/buf finds it.
if ! (cd "$dest" && timeout 300 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error); then
  echo "43-interop-buf: 'npm ci' of peers/buf/package-lock.json failed (is the npm registry reachable?)" >&2
  exit 1
fi
buf="$dest/node_modules/.bin/buf"
"$buf" --version >/dev/null

status=0
pass() { echo "PASS buf curl: $1"; }
fail() {
  echo "FAIL buf curl: $1" >&2
  status=1
}

# start_server OUT BINARY ARGS...: starts it on a free port (sets server_pid, server_port).
start_server() {
  local out=$1
  shift
  "$@" --listen 127.0.0.1:0 >"$out" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    server_port=$(sed -n 's/^Server listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$out" | head -1)
    [ -n "$server_port" ] && return 0
    sleep 0.1
  done
  echo "$(basename "$1") did not start: $(tail -1 "$out")" >&2
  return 1
}
stop_server() {  # stop_server NAME
  kill -TERM "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null || fail "$1 did not exit cleanly"
}
# bufc ARGS...: buf curl over h2c with the gRPC protocol, bounded in time.
bufc() { timeout -k 5 30 "$buf" curl --protocol grpc --http2-prior-knowledge "$@"; }
# expect NAME WANT GOT
expect() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: wanted [$2], got [$3]"; fi
}

# --- helloworld.Greeter, with health and reflection -----------------------------------------
out=$(mktemp)
trap 'rm -f "$out"' EXIT
start_server "$out" "$build/examples/helloworld/greeter_server" || exit 1
url="http://127.0.0.1:$server_port"
expect "list services (reflection v1)" \
  "grpc.health.v1.Health grpc.reflection.v1.ServerReflection grpc.reflection.v1alpha.ServerReflection helloworld.Greeter" \
  "$(bufc --list-services "$url" | sort | xargs)"
expect "list methods" \
  "grpc.health.v1.Health/Check grpc.health.v1.Health/Watch grpc.reflection.v1.ServerReflection/ServerReflectionInfo grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo helloworld.Greeter/SayHello" \
  "$(bufc --list-methods "$url" | sort | xargs)"
for protocol in grpc-v1 grpc-v1alpha; do
  expect "SayHello, schema by reflection $protocol" '"message": "Hello buf"' \
    "$(bufc --reflect-protocol "$protocol" -d '{"name":"buf"}' "$url/helloworld.Greeter/SayHello" |
      grep -o '"message": .*')"
done
expect "Health/Check by reflection" '"status": "SERVING"' \
  "$(bufc -d '{"service":"helloworld.Greeter"}' "$url/grpc.health.v1.Health/Check" |
    grep -o '"status": .*')"
got=$(bufc -d '{"service":"no.Such"}' "$url/grpc.health.v1.Health/Check" 2>&1) && rc=0 || rc=$?
# buf curl exits with 8 × the gRPC status code: 40 is NOT_FOUND.
expect "Health/Check of an unknown service fails NOT_FOUND" "40 not_found" \
  "$rc $(echo "$got" | grep -o 'not_found' | head -1)"
got=$(bufc -d '{}' "$url/helloworld.Greeter/Nope" 2>&1) && rc=0 || rc=$?
expect "a method reflection does not know is refused" "1 1" \
  "$rc $(echo "$got" | grep -c 'contains no such method')"
stop_server greeter_server

# --- routeguide.RouteGuide: all four kinds of call --------------------------------------------
db=examples/route_guide/route_guide_db.json
start_server "$out" "$build/examples/route_guide/route_guide_server" --db_path "$db" || exit 1
rg="http://127.0.0.1:$server_port/routeguide.RouteGuide"
first_name=$(sed -n '2s/.*"name": "\([^"]*\)".*/\1/p' "$db")
first_point=$(sed -n '2s/.*"location": \({[^}]*}\).*/\1/p' "$db")
expect "GetFeature (unary)" "\"name\": \"$first_name\"" \
  "$(bufc -d "$first_point" "$rg/GetFeature" | grep -o '"name": "[^"]*"')"
expect "ListFeatures (server streaming) over the whole world" "$(grep -c '"name": "[^"]' "$db")" \
  "$(bufc -d '{"lo":{"latitude":-900000000,"longitude":-1800000000},"hi":{"latitude":900000000,"longitude":1800000000}}' \
    "$rg/ListFeatures" | grep -c '"name"')"
expect "RecordRoute (client streaming), 3 points" '"pointCount": 3,' \
  "$(bufc -d "$first_point $first_point $first_point" "$rg/RecordRoute" | grep -o '"pointCount": .*')"
# Notes at a place no other test uses: the second note gets the first one back.
expect "RouteChat (bidi)" '"message": "first"' \
  "$(printf '%s\n' '{"location":{"latitude":7,"longitude":7},"message":"first"}' \
    '{"location":{"latitude":7,"longitude":7},"message":"second"}' |
    bufc -d @- "$rg/RouteChat" | grep -o '"message": .*')"
stop_server route_guide_server
exit "$status"
