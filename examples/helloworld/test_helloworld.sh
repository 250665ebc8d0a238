#!/usr/bin/env bash
# meson test 'helloworld' (suite examples): greeter_server on a free port; greeter_client with
# one thread and with four threads sharing one channel; a client against a stopped server must
# fail with a status; the server stops cleanly on SIGTERM. h2rpc-health-probe checks the
# server's grpc.health.v1 service: "" and helloworld.Greeter SERVING, an unknown service
# NOT_FOUND (exit 3), no server (exit 2).
#
#   test_helloworld.sh GREETER_SERVER GREETER_CLIENT HEALTH_PROBE
# shellcheck source-path=SCRIPTDIR source=../test_lib.sh
source "$(dirname "$0")/../test_lib.sh"
server=$1
client=$2
probe=$3

start_server greeter_server "$server" --listen 127.0.0.1:0

run_client one "$client" --target "127.0.0.1:$port"
[ "$client_rc" -eq 0 ] || fail "greeter_client exited with $client_rc"
expect_count "$workdir/one.out" 1 "Greeter received: Hello world"

run_client four "$client" --target "127.0.0.1:$port" --name h2rpc --threads 4
[ "$client_rc" -eq 0 ] || fail "greeter_client --threads 4 exited with $client_rc"
expect_count "$workdir/four.out" 4 "Greeter received: Hello h2rpc"
[ "$(wc -l <"$workdir/four.out")" -eq 4 ] || fail "unexpected extra output from greeter_client"

expect_health "$probe"

stop_server

run_client probe_down "$probe" --addr "127.0.0.1:$port"
[ "$client_rc" -eq 2 ] || fail "h2rpc-health-probe with no server exited with $client_rc, not 2"

# Nothing listens on the port now: the client must end non-zero and say why.
run_client refused "$client" --target "127.0.0.1:$port"
[ "$client_rc" -ne 0 ] || fail "greeter_client succeeded with no server"
[ "$client_rc" -ne 124 ] || fail "greeter_client hung with no server"
grep -q '^RPC failed: [A-Z_]*' "$workdir/refused.err" || fail "no status printed on failure"

echo "PASS helloworld"
