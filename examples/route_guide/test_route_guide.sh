#!/usr/bin/env bash
# meson test 'route_guide' (suite examples): route_guide_server on a free port; the client runs
# all four kinds of call against it; the output is checked against the database.
#
#   test_route_guide.sh ROUTE_GUIDE_SERVER ROUTE_GUIDE_CLIENT DB_PATH
# shellcheck source-path=SCRIPTDIR source=../test_lib.sh
source "$(dirname "$0")/../test_lib.sh"
server=$1
client=$2
db=$3

start_server route_guide_server "$server" --listen 127.0.0.1:0 --db_path "$db"
expect_line "$server_log" "DB parsed, loaded 100 features."

run_client guide "$client" --target "127.0.0.1:$port" --db_path "$db" --points 10 --delay_ms 10
[ "$client_rc" -eq 0 ] || fail "route_guide_client exited with $client_rc"
out="$workdir/guide.out"
# GetFeature: the first feature of the database, then nothing at 0, 0.
expect_line "$out" "Found feature called \"161 Cedar Point Way, Eastwick Mills, NY 12405, USA\" at 40.0785378, -73.5742467"
expect_line "$out" "Found no feature at 0.0000000, 0.0000000"
# ListFeatures: 98 of the 100 features lie in the rectangle.
expect_line "$out" "ListFeatures rpc succeeded: 98 features."
listed=$(sed -n '/^-* ListFeatures -*$/,/^-* RecordRoute -*$/p' "$out" | grep -c '^Found feature called')
[ "$listed" -eq 98 ] || fail "ListFeatures printed $listed features, expected 98"
# RecordRoute: ten points, each a database feature.
expect_count "$out" 1 "Finished trip with 10 points"
[ "$(grep -c '^Visiting point ' "$out")" -eq 10 ] || fail "RecordRoute did not visit 10 points"
grep -q '^Passed [0-9]* features$' "$out" || fail "RecordRoute summary missing"
# RouteChat: four notes out; the fourth is at the first one's place, so it comes back once.
expect_count "$out" 1 "Sending message First message at 0, 0"
expect_count "$out" 1 "Sending message Fourth message at 0, 0"
expect_count "$out" 1 "Got message First message at 0, 0"
expect_line "$out" "RouteChat rpc succeeded: 1 notes received."
expect_line "$out" "All four calls succeeded."

stop_server
echo "PASS route_guide"
