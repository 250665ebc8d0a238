// SECURITY.md item 7: a peer that advertises a zero window and never opens it. The handler's
// writes block once stream_send_budget bytes are queued (memory stays bounded) and the call's
// deadline frees the handler thread (Write returns false, IsCancelled is true) and ends the call
// with DEADLINE_EXCEEDED.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>

#include "tests/rpc/server_harness.h"

namespace h2rpc::testing {
namespace {

TEST_CASE(
    "attack: zero-window peer — writes block within the send budget, the deadline frees the "
    "handler") {
  std::atomic<int> written{0};
  std::atomic<bool> finished{false};
  std::atomic<bool> cancelled{false};
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterMethod("/t.W/Flood", RpcKind::kServerStreaming,
                     [&](ServerContext& ctx, ServerCall& call) {
                       std::string m;
                       call.Read(&m);
                       const std::string chunk(64 * 1024, 'w');
                       for (int i = 0; i < 1000 && call.Write(chunk); ++i)
                         written.fetch_add(1);  // up to 64 MB
                       cancelled = ctx.IsCancelled();
                       finished = true;
                       return Status();
                     });
  });
  RawPeer peer(ts.port, "127.0.0.1", /*send_preface=*/false);
  peer.SendPreface({{0x4 /*INITIAL_WINDOW_SIZE*/, 0}});
  REQUIRE(peer.RunUntil([&] { return !peer.server_settings().empty(); }));
  const long rss_before = ResidentKib();
  const int32_t id = peer.NextStreamId();
  const auto start = std::chrono::steady_clock::now();
  peer.SendUnary(id, "/t.W/Flood", "go", {{"grpc-timeout", "500m"}});
  REQUIRE(peer.WaitStream(id, std::chrono::seconds(5)));
  REQUIRE(Eventually([&] { return finished.load(); }));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed >= std::chrono::milliseconds(450));
  CHECK(elapsed < std::chrono::seconds(3));
  CHECK(cancelled.load());
  // Nothing was framed, so nothing is owed: the status goes at once, in trailers.
  CHECK(peer.stream(id).end_stream);
  CHECK_FALSE(peer.stream(id).reset);
  CHECK(peer.stream(id).GrpcStatus().code() == StatusCode::kDeadlineExceeded);
  // Only the send budget (256 KiB) could be queued: a few 64 KiB writes, not 1000.
  MESSAGE("writes accepted before blocking: " << written.load());
  CHECK(written.load() <= 6);
  CHECK(ResidentKib() - rss_before < 16 * 1024);
  CHECK(peer.stream(id).data.empty());
  // The connection is still usable for calls that fit in zero window (none do), and for pings.
  CHECK_FALSE(peer.closed());
}

TEST_CASE("server: a slow reader gets everything eventually (flow control, no loss)") {
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterMethod("/t.W/Stream", RpcKind::kServerStreaming,
                     [&](ServerContext&, ServerCall& call) {
                       std::string m;
                       call.Read(&m);
                       for (int i = 0; i < 64; ++i) {
                         if (!call.Write(std::string(32 * 1024, static_cast<char>('a' + i % 26)))) {
                           return Status(StatusCode::kCancelled, "write failed");
                         }
                       }
                       return Status();
                     });
  });
  // A 64 KiB stream window: the server must wait for WINDOW_UPDATEs (RawPeer sends them as it
  // reads) and send 2 MiB through it intact.
  RawPeer peer(ts.port, "127.0.0.1", /*send_preface=*/false);
  peer.SendPreface({{0x4, 65535}});
  REQUIRE(peer.RunUntil([&] { return !peer.server_settings().empty(); }));
  StreamResult r = peer.Unary("/t.W/Stream", "go", {}, std::chrono::seconds(20));
  REQUIRE(r.end_stream);
  CHECK(r.GrpcStatus().ok());
  auto messages = r.Messages();
  REQUIRE(messages.size() == 64);
  for (int i = 0; i < 64; ++i)
    CHECK(messages[i] == std::string(32 * 1024, static_cast<char>('a' + i % 26)));
}

TEST_CASE("server: a handler that reads slowly withholds window; nothing is lost") {
  std::atomic<int64_t> total{0};
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterMethod("/t.W/Up", RpcKind::kClientStreaming, [&](ServerContext&, ServerCall& call) {
      std::string m;
      int n = 0;
      while (call.Read(&m)) {
        total.fetch_add(static_cast<int64_t>(m.size()));
        if (++n % 16 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      call.Write(std::to_string(n));
      return Status();
    });
  });
  RawPeer peer(ts.port);
  const int32_t id = peer.NextStreamId();
  peer.SendHeaders(id, GrpcRequest("/t.W/Up"), false);
  // 3 MiB in 48 KiB messages (within the 4 MiB stream window RawPeer does not track).
  for (int i = 0; i < 64; ++i) peer.SendData(id, GrpcFrame(std::string(48 * 1024, 'u')), false);
  peer.SendData(id, "", true);
  REQUIRE(peer.WaitStream(id, std::chrono::seconds(20)));
  CHECK(peer.stream(id).Messages() == std::vector<std::string>{"64"});
  CHECK(total.load() == 64 * 48 * 1024);
}

}  // namespace
}  // namespace h2rpc::testing
