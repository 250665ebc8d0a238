#!/usr/bin/env bash
# meson test 'multiplex' (suite examples): one server with helloworld.Greeter and echo.Echo; the
# client calls both from several threads through two stubs on one channel, and the server must
# have seen all of those calls on a single connection.
#
#   test_multiplex.sh MULTIPLEX_SERVER MULTIPLEX_CLIENT
# shellcheck source-path=SCRIPTDIR source=../test_lib.sh
source "$(dirname "$0")/../test_lib.sh"
server=$1
client=$2

start_server multiplex_server "$server" --listen 127.0.0.1:0

run_client mux "$client" --target "127.0.0.1:$port" --threads 4 --calls 8
[ "$client_rc" -eq 0 ] || fail "multiplex_client exited with $client_rc"
out="$workdir/mux.out"
for t in 0 1 2 3; do
  expect_count "$out" 1 "thread $t: 8 greetings, 8 echoes"
done
expect_line "$out" "connections seen by the server: 1"
expect_line "$out" "multiplex: 64 calls to 2 services from 4 threads over one channel succeeded"

stop_server
echo "PASS multiplex"
