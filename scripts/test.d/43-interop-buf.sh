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
dest="$build/buf"
. scripts/npm-peer.sh
install_npm_peer peers/buf "$dest"
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

# --- grpc.testing.TestService: gRPC's interop cases, plaintext and TLS ------------------------
# payload_sizes: the decoded payload size of each JSON response on stdin, space-separated.
payload_sizes() {
  python3 -c '
import base64, json, sys
text, sizes = sys.stdin.read(), []
while text.strip():
    doc, end = json.JSONDecoder().raw_decode(text.lstrip())
    text = text.lstrip()[end:]
    sizes.append(str(len(base64.b64decode(doc.get("payload", {}).get("body", "")))))
print(" ".join(sizes))'
}
# json_field NAME: that field of the one JSON document on stdin.
json_field() { python3 -c "import json, sys; print(json.load(sys.stdin).get('$1'))"; }
body_of() { head -c "$1" /dev/zero | base64 -w0; }
work=$(mktemp -d)
trap 'rm -rf "$out" "$work"' EXIT
(cd "$work" &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
    -subj "/CN=h2rpc buf CA" &&
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
    -subj "/CN=foo.test.google.fr" &&
  printf 'subjectAltName=DNS:foo.test.google.fr,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >ext.cnf &&
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
    -days 2 -extfile ext.cnf) >"$work/openssl.log" 2>&1 ||
  { fail "certificates: $(tail -1 "$work/openssl.log")"; exit 1; }
printf '{"responseSize":314159,"payload":{"body":"%s"}}' "$(body_of 271828)" >"$work/large.json"
printf '{"responseCompressed":{"value":true},"responseSize":314159,"payload":{"body":"%s"}}' \
  "$(body_of 271828)" >"$work/compressed.json"
for b in 27182 8 1828 45904; do printf '{"payload":{"body":"%s"}}\n' "$(body_of $b)"; done \
  >"$work/client_stream.json"
for b in 31415 9 2653 58979; do
  printf '{"responseParameters":[{"size":%d}],"payload":{"body":"%s"}}\n' "$b" "$(body_of 10)"
done >"$work/ping_pong.json"
special=$'\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n'

for mode in plaintext tls; do
  if [ "$mode" = tls ]; then
    "$build/tests/interop/h2rpc-interop-server" --port=0 --bind=127.0.0.1 --use_tls=true \
      --tls_cert_file="$work/server.pem" --tls_key_file="$work/server.key" >"$out" 2>&1 &
    scheme=https
    flags=(--protocol grpc --cacert "$work/ca.pem" --servername foo.test.google.fr)
  else
    "$build/tests/interop/h2rpc-interop-server" --port=0 --bind=127.0.0.1 >"$out" 2>&1 &
    scheme=http
    flags=(--protocol grpc --http2-prior-knowledge)
  fi
  server_pid=$!
  server_port=""
  for _ in $(seq 100); do
    server_port=$(sed -n 's/.*"event":"listening","port":\([0-9]*\).*/\1/p' "$out" | head -1)
    [ -n "$server_port" ] && break
    sleep 0.1
  done
  [ -n "$server_port" ] || { fail "$mode: h2rpc-interop-server did not start: $(tail -1 "$out")"; continue; }
  ts="$scheme://127.0.0.1:$server_port/grpc.testing.TestService"
  tc() { timeout -k 5 30 "$buf" curl "${flags[@]}" "$@"; }

  expect "$mode empty_unary" "{}" "$(tc -d '{}' "$ts/EmptyCall" | tr -d ' \n')"
  expect "$mode large_unary (271828 B in, 314159 B out)" "314159" \
    "$(tc -d @"$work/large.json" "$ts/UnaryCall" | payload_sizes)"
  got=$(tc -v -d @"$work/compressed.json" "$ts/UnaryCall" 2>"$work/verbose" | payload_sizes)
  expect "$mode server_compressed_unary (gzip)" "314159 1" \
    "$got $(grep -c '^buf: < (#[0-9]*) Grpc-Encoding: gzip' "$work/verbose")"
  expect "$mode server_streaming" "31415 9 2653 58979" \
    "$(tc -d '{"responseParameters":[{"size":31415},{"size":9},{"size":2653},{"size":58979}]}' \
      "$ts/StreamingOutputCall" | payload_sizes)"
  expect "$mode client_streaming" "74922" \
    "$(tc -d @"$work/client_stream.json" "$ts/StreamingInputCall" | json_field aggregatedPayloadSize)"
  expect "$mode full_duplex" "31415 9 2653 58979" \
    "$(tc -d @"$work/ping_pong.json" "$ts/FullDuplexCall" | payload_sizes)"
  tc -v -H "x-grpc-test-echo-initial: test_initial_metadata_value" \
    -H "x-grpc-test-echo-trailing-bin: q6ur" -d '{}' "$ts/UnaryCall" >/dev/null 2>"$work/verbose"
  expect "$mode custom_metadata (echoed header and -bin trailer)" "1 1" \
    "$(grep -c '^buf: < (#[0-9]*) X-Grpc-Test-Echo-Initial: test_initial_metadata_value' "$work/verbose") $(grep -c '^buf: < (#[0-9]*) X-Grpc-Test-Echo-Trailing-Bin: q6ur' "$work/verbose")"
  # buf curl exits with 8 × the status code and prints the error as JSON on stderr.
  rc=0
  tc -d '{"responseStatus":{"code":2,"message":"test status message"}}' "$ts/UnaryCall" \
    2>"$work/err" >/dev/null || rc=$?
  expect "$mode status_code_and_message" "16 test status message" "$rc $(json_field message <"$work/err")"
  python3 -c 'import json, sys; print(json.dumps({"responseStatus": {"code": 2, "message": sys.argv[1]}}))' \
    "$special" >"$work/special.json"
  rc=0
  tc -d @"$work/special.json" "$ts/UnaryCall" 2>"$work/err" >/dev/null || rc=$?
  # Compared in Python: $(...) would drop the message's trailing newline.
  expect "$mode special_status_message (exact, whitespace and Unicode)" "16 True" "$rc $(
    python3 -c 'import json, sys; print(json.load(sys.stdin)["message"] == sys.argv[1])' \
      "$special" <"$work/err")"
  rc=0
  tc -d '{}' "$ts/UnimplementedCall" >/dev/null 2>&1 || rc=$?
  expect "$mode unimplemented_method" "96" "$rc"
  rc=0
  tc -d '{}' "$scheme://127.0.0.1:$server_port/grpc.testing.UnimplementedService/UnimplementedCall" \
    >/dev/null 2>&1 || rc=$?
  expect "$mode unimplemented_service" "96" "$rc"
  stop_server "h2rpc-interop-server ($mode)"
done
exit "$status"
