#!/usr/bin/env bash
# meson test 'helloworld-grpcpp-interop' (suite examples): the examples against grpc++.
#   1. grpc++'s greeter client (peers/grpcpp) -> h2rpc greeter_server
#   2. h2rpc greeter_client -> grpc++'s greeter server
# Each with four threads on one channel; every greeting must come back.
#   3. h2rpc-health-probe -> grpc++'s own health service (in grpcpp-greeter-server)
#
#   test_grpcpp_interop.sh GREETER_SERVER GREETER_CLIENT GRPCPP_SERVER GRPCPP_CLIENT HEALTH_PROBE
# shellcheck source-path=SCRIPTDIR source=../test_lib.sh
source "$(dirname "$0")/../test_lib.sh"
h2rpc_server=$1
h2rpc_client=$2
grpcpp_server=$3
grpcpp_client=$4
probe=$5

echo "== grpc++ client -> h2rpc server"
start_server greeter_server "$h2rpc_server" --listen 127.0.0.1:0
run_client grpcpp "$grpcpp_client" --target "127.0.0.1:$port" --name grpcpp --threads 4
[ "$client_rc" -eq 0 ] || fail "grpcpp-greeter-client exited with $client_rc"
expect_count "$workdir/grpcpp.out" 4 "Greeter received: Hello grpcpp"
stop_server

echo "== h2rpc client -> grpc++ server"
start_server grpcpp-greeter-server "$grpcpp_server" --listen 127.0.0.1:0
run_client h2rpc "$h2rpc_client" --target "127.0.0.1:$port" --name h2rpc --threads 4
[ "$client_rc" -eq 0 ] || fail "greeter_client exited with $client_rc"
expect_count "$workdir/h2rpc.out" 4 "Greeter received: Hello h2rpc"
echo "== h2rpc health probe -> grpc++'s health service"
expect_health "$probe"
stop_server

echo "PASS helloworld-grpcpp-interop"
