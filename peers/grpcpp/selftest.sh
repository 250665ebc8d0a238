#!/usr/bin/env bash
# Self-test of the grpc++ reference peers against each other, loopback only.
#
#   peers/grpcpp/selftest.sh BUILD_DIR
#
# 1. grpcpp-interop-client -> grpcpp-interop-server: all 18 cases over plaintext, then
#    all 18 over TLS (throw-away CA + server certificate for foo.test.google.fr made
#    with the openssl CLI), plus: a wrong --server_host_override must fail (certificate
#    checking is on) and "--flag value" spelling works.
# 2. grpcpp-bench-client -> grpcpp-bench-server: every mode with the blocking stub
#    (K=1) and the CompletionQueue client (2 threads, 2 channels, K=4), checking the
#    JSON line (field names and order), errors=0; then SIGUSR1 (stats line) and
#    SIGTERM (exit line) and the server's counters against what the clients did.
# 3. grpcpp-greeter-client -> grpcpp-greeter-server with 3 threads.
#
# Prints "PASS name" / "FAIL name: reason" per check and last "N passed, M failed";
# exit status 1 if anything failed. Every server it started is stopped on exit.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
bin=$(cd "$1/peers/grpcpp" 2>/dev/null && pwd) || {
  echo "$0: no peers/grpcpp in build directory '$1' (configure with -Dgrpcpp_peers=enabled)" >&2
  exit 2
}
for p in grpcpp-interop-server grpcpp-interop-client grpcpp-bench-server grpcpp-bench-client \
  grpcpp-greeter-server grpcpp-greeter-client; do
  [ -x "$bin/$p" ] || { echo "$0: $bin/$p is not built" >&2; exit 2; }
done

case_timeout=${SELFTEST_CASE_TIMEOUT:-20}
bench_seconds=${SELFTEST_BENCH_SECONDS:-1}
work=$(mktemp -d "${TMPDIR:-/tmp}/grpcpp-selftest.XXXXXX")
pids=()
passed=0
failed=0

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

stop_pid() {  # SIGTERM, then SIGKILL if it lingers
  local pid=$1
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
cleanup() {
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME CMD... : starts CMD with stdout/stderr in $work/NAME.{out,err}, waits
# (10 s at most) for its "listening" line; sets server_pid and server_port.
start_server() {
  local name=$1
  shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  server_pid=$!
  pids+=("$server_pid")
  server_port=""
  for _ in $(seq 100); do
    server_port=$(sed -n 's/.*"event":"listening","port":\([0-9]*\).*/\1/p' "$work/$name.out" | head -1)
    [ -n "$server_port" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  fail "$name starts" "no listening line: $(tail -1 "$work/$name.err" 2>/dev/null)"
  return 1
}

field() { sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1"; }

cases=(empty_unary large_unary client_streaming server_streaming ping_pong empty_stream
  custom_metadata status_code_and_message special_status_message unimplemented_method
  unimplemented_service cancel_after_begin cancel_after_first_response
  timeout_on_sleeping_server client_compressed_unary server_compressed_unary
  client_compressed_streaming server_compressed_streaming)

run_interop() {  # run_interop LABEL PORT EXTRA_ARGS...
  local label=$1 port=$2 out rc
  shift 2
  for c in "${cases[@]}"; do
    out=$(timeout "$case_timeout" "$bin/grpcpp-interop-client" --server_host=127.0.0.1 \
      --server_port="$port" --test_case="$c" "$@" 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then pass "interop $label $c"
    elif [ $rc -eq 124 ]; then fail "interop $label $c" "timed out after ${case_timeout}s"
    else fail "interop $label $c" "exit $rc: $(tail -1 <<<"$out")"
    fi
  done
}

# ---- 1. interop, plaintext ----
if start_server interop-plain "$bin/grpcpp-interop-server" --port=0 --bind=127.0.0.1 --use_tls=false; then
  run_interop plaintext "$server_port"
  # "--flag value" spelling
  if out=$(timeout "$case_timeout" "$bin/grpcpp-interop-client" --server_host 127.0.0.1 \
    --server_port "$server_port" --test_case large_unary --use_tls false 2>&1); then
    pass "interop flags given as '--flag value'"
  else
    fail "interop flags given as '--flag value'" "$(tail -1 <<<"$out")"
  fi
  stop_pid "$server_pid"
fi

# ---- 1b. interop, TLS ----
if ! command -v openssl >/dev/null; then
  fail "interop tls" "openssl CLI not found"
elif ! (cd "$work" &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
    -subj "/CN=grpcpp selftest CA" &&
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
    -subj "/CN=foo.test.google.fr" &&
  printf 'subjectAltName=DNS:foo.test.google.fr,DNS:*.test.google.fr\nbasicConstraints=CA:FALSE\n' >ext.cnf &&
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out server.pem -days 2 -extfile ext.cnf) >"$work/openssl.log" 2>&1; then
  fail "interop tls" "certificate generation failed: $(tail -1 "$work/openssl.log")"
elif start_server interop-tls "$bin/grpcpp-interop-server" --port=0 --bind=127.0.0.1 --use_tls=true \
  --tls_cert_file="$work/server.pem" --tls_key_file="$work/server.key"; then
  run_interop tls "$server_port" --use_tls=true --server_host_override=foo.test.google.fr \
    --tls_ca_file="$work/ca.pem"
  if out=$(timeout "$case_timeout" "$bin/grpcpp-interop-client" --server_host=127.0.0.1 \
    --server_port="$server_port" --test_case=empty_unary --use_tls=true \
    --server_host_override=wrong.example.com --tls_ca_file="$work/ca.pem" 2>&1); then
    fail "interop tls rejects a wrong server name" "the call succeeded"
  else
    pass "interop tls rejects a wrong server name"
  fi
  stop_pid "$server_pid"
fi

# ---- 2. bench ----
expected_keys=impl,mode,threads,channels,concurrency,size,seconds,ops,calls_per_s,msgs_per_s,mb_per_s,lat_kind,p50_us,p90_us,p99_us,mean_us,cpu_s,cpu_user_s,cpu_sys_s,cpu_us_per_op,maxrss_kb,ops_total,calls_total,errors
declare -A sum_ops=() sum_calls=() sum_streams=()
if start_server bench "$bin/grpcpp-bench-server" --port 0; then
  bench_pid=$server_pid
  for shape in "1 1 1" "2 2 4"; do
    read -r t c k <<<"$shape"
    for mode in unary stream_out stream_in echo; do
      name="bench $mode threads=$t channels=$c concurrency=$k"
      out=$(timeout $((bench_seconds + 40)) "$bin/grpcpp-bench-client" --target "127.0.0.1:$server_port" \
        --mode "$mode" --threads "$t" --channels "$c" --concurrency "$k" --size 64 \
        --seconds "$bench_seconds" --warmup 0.2 2>"$work/bench-client.err")
      rc=$?
      echo "  $out"
      keys=$(grep -o '"[a-z_0-9]*":' <<<"$out" | tr -d '":' | paste -sd, -)
      if [ $rc -ne 0 ]; then
        fail "$name" "exit $rc: $(tail -1 "$work/bench-client.err")"
      elif [ "$(wc -l <<<"$out")" -ne 1 ] || [ "$keys" != "$expected_keys" ]; then
        fail "$name" "stdout is not the one contract JSON line"
      elif [ "$(field "$out" errors)" != 0 ] || [ "$(field "$out" ops)" -le 0 ] ||
        [ "$(field "$out" impl)" != grpcpp ] || [ "$(field "$out" mode)" != "$mode" ]; then
        fail "$name" "errors/ops/impl/mode wrong"
      else
        pass "$name"
      fi
      sum_ops[$mode]=$((${sum_ops[$mode]:-0} + $(field "$out" ops_total)))
      sum_calls[$mode]=$((${sum_calls[$mode]:-0} + $(field "$out" calls_total)))
      sum_streams[$mode]=$((${sum_streams[$mode]:-0} + t * k))
    done
  done
  kill -USR1 "$bench_pid"
  stats=""
  for _ in $(seq 50); do
    stats=$(grep '"event":"stats"' "$work/bench.out")
    [ -n "$stats" ] && break
    sleep 0.1
  done
  if [ -n "$stats" ] && kill -0 "$bench_pid" 2>/dev/null; then
    pass "bench server SIGUSR1 prints stats and keeps serving"
  else
    fail "bench server SIGUSR1 prints stats and keeps serving" "no stats line or server gone"
  fi
  kill -TERM "$bench_pid"
  for _ in $(seq 100); do kill -0 "$bench_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$bench_pid" 2>/dev/null; then
    fail "bench server exits on SIGTERM" "still running after 10 s"
  else
    wait "$bench_pid"
    rc=$?
    exitline=$(grep '"event":"exit"' "$work/bench.out")
    echo "  $exitline"
    if [ $rc -ne 0 ] || [ -z "$exitline" ]; then
      fail "bench server exits on SIGTERM" "exit $rc, exit line: '${exitline}'"
    else
      pass "bench server exits on SIGTERM"
      why=""
      [ "$(field "$exitline" unary)" = "${sum_calls[unary]}" ] ||
        why+=" unary=$(field "$exitline" unary) vs client calls ${sum_calls[unary]};"
      [ "$(field "$exitline" stream_in_msgs)" = "${sum_ops[stream_in]}" ] ||
        why+=" stream_in_msgs=$(field "$exitline" stream_in_msgs) vs client writes ${sum_ops[stream_in]};"
      [ "$(field "$exitline" echo_msgs)" = "${sum_ops[echo]}" ] ||
        why+=" echo_msgs=$(field "$exitline" echo_msgs) vs client round trips ${sum_ops[echo]};"
      [ "$(field "$exitline" stream_out_msgs)" -ge "${sum_ops[stream_out]}" ] ||
        why+=" stream_out_msgs=$(field "$exitline" stream_out_msgs) < client reads ${sum_ops[stream_out]};"
      for m in stream_out stream_in echo; do
        [ "$(field "$exitline" "${m}_calls")" = "${sum_streams[$m]}" ] ||
          why+=" ${m}_calls=$(field "$exitline" "${m}_calls") vs ${sum_streams[$m]} streams;"
      done
      if [ -z "$why" ]; then pass "bench server counters match the clients"
      else fail "bench server counters match the clients" "$why"
      fi
    fi
  fi
fi

# ---- 3. greeter ----
if start_server greeter "$bin/grpcpp-greeter-server" --listen 127.0.0.1:0; then
  out=$(timeout "$case_timeout" "$bin/grpcpp-greeter-client" --target "127.0.0.1:$server_port" \
    --name selftest --threads 3 2>&1)
  rc=$?
  n=$(grep -c '^Greeter received: Hello selftest$' <<<"$out")
  if [ $rc -eq 0 ] && [ "$n" -eq 3 ]; then pass "greeter 3 threads"
  else fail "greeter 3 threads" "exit $rc, $n replies: $(tail -1 <<<"$out")"
  fi
  stop_pid "$server_pid"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
