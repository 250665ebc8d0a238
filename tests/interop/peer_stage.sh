#!/usr/bin/env bash
# One peer implementation's whole test stage, for peers whose stage is only the common part:
#   tests/interop/peer_stage.sh IMPL STOP_AFTER
# builds peers/IMPL into BUILD_DIR/IMPL (peers/IMPL/build.sh), runs the interop matrix IMPL ↔
# h2rpc both ways plus IMPL ↔ IMPL as the control (tests/interop/run_matrix.sh), then IMPL's
# chaos client against the h2rpc and grpc++ bench servers and against an h2rpc server SIGTERMed
# after STOP_AFTER seconds (chaos_into_servers in peer_lib.sh). H2RPC_<IMPL>_CHAOS=0 (upper
# case, e.g. H2RPC_GRPCIO_CHAOS=0) skips the chaos runs.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 IMPL STOP_AFTER" >&2; exit 2; }
impl=$1
stop_after=$2
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
"peers/$impl/build.sh" "$build/$impl"
status=0
tests/interop/run_matrix.sh "$build" "$impl:h2rpc" "h2rpc:$impl" "$impl:$impl" || status=1
# shellcheck source-path=SCRIPTDIR source=peer_lib.sh
. tests/interop/peer_lib.sh
skip_chaos="H2RPC_${impl^^}_CHAOS"
if [ "${!skip_chaos:-1}" != 0 ]; then
  chaos_into_servers "$impl" "$stop_after" || status=1
fi
exit "$status"
