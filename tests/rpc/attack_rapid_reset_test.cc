// SECURITY.md item 1 — Rapid Reset (CVE-2023-44487) against a thread-per-call server:
// 50k HEADERS+RST_STREAM pairs. The reset rate limit answers with GOAWAY; the running
// handlers never exceed the cap (a slot is held until the handler returns, not until the
// stream closes); the thread count stays bounded; other connections keep working. And the other
// side of that limit: a client resetting streams as busy gRPC clients do keeps its connection.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "tests/rpc/server_harness.h"

namespace h2rpc::testing {
namespace {

TEST_CASE("attack: rapid reset — 50k HEADERS+RST_STREAM pairs") {
  constexpr int kCap = 16;
  constexpr int kIdle = 8;
  RunningGauge gauge;
  const int threads_before = ThreadCount();
  ServerOptions options;
  options.max_concurrent_calls = kCap;
  options.max_idle_handler_threads = kIdle;
  auto ts = StartServer([&](ServerBuilder& b) {
    b.SetOptions(options);
    // Each handler lingers after its stream is reset, as a careless handler would.
    b.RegisterMethod("/t.R/Work", RpcKind::kUnary, [&](ServerContext& ctx, ServerCall&) {
      gauge.Enter();
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
      while (std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      (void)ctx.IsCancelled();
      gauge.Leave();
      return Status();
    });
  });

  RawPeer attacker(ts.port);
  // One HEADERS (END_STREAM: the unary handler is dispatched at once) + RST_STREAM per stream.
  // Ten times the default burst (ServerOptions::stream_reset_burst), which nghttp2 also allows
  // again in each new second.
  constexpr int kPairs = 50000;
  std::string batch;
  int sent_pairs = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int max_threads = 0;
  while (sent_pairs < kPairs && !attacker.goaway_received() && !attacker.closed() &&
         std::chrono::steady_clock::now() < deadline) {
    batch.clear();
    for (int i = 0; i < 100 && sent_pairs < kPairs; ++i, ++sent_pairs) {
      const int32_t id = attacker.NextStreamId();
      const std::string block = attacker.EncodeHeaderBlock(GrpcRequest("/t.R/Work"));
      batch += RawPeer::FrameBytes(kHeaders, kEndHeaders | kEndStream, id, block);
      batch += RawPeer::FrameBytes(kRstStream, 0, id, std::string("\0\0\0\x08", 4));
    }
    if (attacker.SendRawFor(batch, std::chrono::milliseconds(500)) < batch.size()) break;
    attacker.RunUntil([] { return false; }, std::chrono::milliseconds(1));  // drain replies
    max_threads = std::max(max_threads, ThreadCount());
  }
  attacker.RunUntil([&] { return attacker.goaway_received() || attacker.closed(); },
                    std::chrono::seconds(5));
  // Client stream ids are odd: stream n (from 1) has id 2n - 1.
  const int processed_pairs = (attacker.goaway_last_stream_id() + 1) / 2;
  MESSAGE("pairs sent before GOAWAY: " << sent_pairs << ", processed by the server (GOAWAY "
                                       << "last_stream_id): " << processed_pairs
                                       << ", handlers run: " << gauge.total.load()
                                       << ", peak running: " << gauge.peak.load());
  CHECK(attacker.goaway_received());
  // The rate limit stopped the server well before 50k. Judged by what the server processed
  // (its GOAWAY's last_stream_id), not by what the attacker got into the socket: on a slow
  // machine the kernel buffers take many thousand pairs before the server reads the first.
  CHECK(processed_pairs < kPairs / 2);
  CHECK(gauge.peak.load() <= kCap);
  // I/O thread + running (≤ cap) + idle (≤ kIdle) + a few threads on their way out.
  CHECK(max_threads <= threads_before + 1 + kCap + kIdle + 4);

  // Once the attacker's handlers have returned (the cap is global: while they run, new calls
  // from anyone are refused), other clients are served. A handler already handed to the pool
  // may not have started when the gauge reads 0, so a refusal (REFUSED_STREAM: not processed,
  // which every gRPC client retries) is retried; any other answer is final.
  REQUIRE(Eventually([&] { return gauge.now.load() == 0; }));
  RawPeer honest(ts.port);
  StreamResult answer;
  int refused = 0;
  const auto honest_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    answer = honest.Unary("/t.R/Work", "");
    constexpr uint32_t kRefusedStream = 0x7;  // RFC 9113 §7
    if (!(answer.reset && answer.rst_code == kRefusedStream) ||
        std::chrono::steady_clock::now() > honest_deadline) {
      break;
    }
    ++refused;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  MESSAGE("honest call: refused " << refused << " times, then " << answer.GrpcStatus().ToString());
  CHECK(answer.GrpcStatus().ok());
  CHECK(Eventually([&] { return ThreadCount() <= threads_before + 1 + kIdle; }));
}

TEST_CASE("rapid reset limit: a client cancelling 2,100 calls at ~700/s keeps its connection") {
  // Busy gRPC clients reset streams all the time: every expired deadline and every cancel is an
  // RST_STREAM. With nghttp2's default refill (33/s after a burst of 1,000) this client got
  // GOAWAY after about 1.5 s, and every call on the connection failed; ours must not.
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterMethod("/t.R/Work", RpcKind::kUnary,
                     [](ServerContext&, ServerCall&) { return Status(); });
  });
  RawPeer client(ts.port);
  constexpr int kBatches = 30;
  constexpr int kBatch = 70;
  constexpr auto kPeriod = std::chrono::milliseconds(100);  // 70 resets per 100 ms, for 3 s
  const auto start = std::chrono::steady_clock::now();
  std::string batch;
  for (int n = 0; n < kBatches; ++n) {
    batch.clear();
    for (int i = 0; i < kBatch; ++i) {
      const int32_t id = client.NextStreamId();
      const std::string block = client.EncodeHeaderBlock(GrpcRequest("/t.R/Work"));
      batch += RawPeer::FrameBytes(kHeaders, kEndHeaders | kEndStream, id, block);
      batch += RawPeer::FrameBytes(kRstStream, 0, id, std::string("\0\0\0\x08", 4));  // CANCEL
    }
    REQUIRE(client.SendRawFor(batch, std::chrono::milliseconds(2000)) == batch.size());
    const auto wait = start + kPeriod * (n + 1) - std::chrono::steady_clock::now();
    client.RunUntil([&] { return client.goaway_received() || client.closed(); },
                    std::max(std::chrono::milliseconds(1),
                             std::chrono::duration_cast<std::chrono::milliseconds>(wait)));
    REQUIRE_FALSE(client.goaway_received());
    REQUIRE_FALSE(client.closed());
  }
  const StreamResult answer = client.Unary("/t.R/Work", "");
  CHECK(answer.GrpcStatus().ok());
  CHECK_FALSE(client.goaway_received());
}

}  // namespace
}  // namespace h2rpc::testing
