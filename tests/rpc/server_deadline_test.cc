// A deadline that passes while the response waits behind the client's flow-control window: the
// message already partly on the wire is completed (the client never sees half a message), the
// messages not yet framed are dropped, and DEADLINE_EXCEEDED follows in trailers; a client that
// never opens its window is reset after a grace period instead of holding the stream forever.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "tests/rpc/server_harness.h"

namespace h2rpc::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMessageSize = 10000;
constexpr uint32_t kStreamWindow = 1000;  // the first DATA frame carries 1000 bytes of message A

/// Writes messages A, B and C at once (they fit the send budget, not the client's window), then
/// waits for the call to end.
struct ThreeMessages {
  std::atomic<bool> finished{false};
  std::atomic<bool> saw_cancelled{false};
  GenericHandler Handler() {
    return [this](ServerContext& ctx, ServerCall& call) {
      std::string request;
      call.Read(&request);
      for (char c : {'a', 'b', 'c'}) call.Write(std::string(kMessageSize, c));
      const auto until = Clock::now() + std::chrono::seconds(5);
      while (!ctx.IsCancelled() && Clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      saw_cancelled = ctx.IsCancelled();
      finished = true;
      return Status();
    };
  }
};

/// A server running ThreeMessages and a peer whose stream window is kStreamWindow and who never
/// gives window back by itself.
struct StuckResponse {
  StuckResponse()
      : server(StartServer([this](ServerBuilder& b) {
          b.RegisterMethod("/t.D/Three", RpcKind::kServerStreaming, handler.Handler());
        })),
        peer(server.port, "127.0.0.1", /*send_preface=*/false) {
    peer.SendPreface({{0x4 /*INITIAL_WINDOW_SIZE*/, kStreamWindow}});
    peer.set_auto_window_update(false);
    REQUIRE(peer.RunUntil([&] { return !peer.server_settings().empty(); }));
  }
  /// Starts the call with `grpc_timeout` ("300m"); returns its stream id.
  int32_t Call(const std::string& grpc_timeout) {
    const int32_t id = peer.NextStreamId();
    peer.SendUnary(id, "/t.D/Three", "go", {{"grpc-timeout", grpc_timeout}});
    return id;
  }
  ThreeMessages handler;
  TestServer server;
  RawPeer peer;
};

TEST_CASE(
    "server: deadline behind flow control — the message on the wire completes, queued ones are "
    "dropped, DEADLINE_EXCEEDED follows") {
  StuckResponse t;
  RawPeer& peer = t.peer;
  const int32_t id = t.Call("300m");
  // Past the deadline, with only the first window's worth of message A received.
  peer.RunUntil([] { return false; }, std::chrono::milliseconds(600));
  CHECK(peer.stream(id).data.size() == kStreamWindow);
  CHECK_FALSE(peer.stream(id).done());
  REQUIRE(Eventually([&] { return t.handler.finished.load(); }));
  CHECK(t.handler.saw_cancelled.load());
  // Room for all three messages: only the rest of A may come, then the status.
  peer.SendWindowUpdate(0, 1 << 20);
  peer.SendWindowUpdate(id, 1 << 20);
  REQUIRE(peer.WaitStream(id));
  const StreamResult& r = peer.stream(id);
  CHECK(r.end_stream);
  CHECK_FALSE(r.reset);
  CHECK(r.GrpcStatus().code() == StatusCode::kDeadlineExceeded);
  const auto messages = r.Messages();
  REQUIRE(messages.size() == 1);
  CHECK(messages[0] == std::string(kMessageSize, 'a'));
}

TEST_CASE(
    "server: deadline behind flow control — a client that never opens its window is reset after "
    "a grace period") {
  StuckResponse t;
  RawPeer& peer = t.peer;
  const auto start = Clock::now();
  const int32_t id = t.Call("200m");
  REQUIRE(peer.WaitStream(id, std::chrono::seconds(5)));
  const auto elapsed = Clock::now() - start;
  CHECK(elapsed >= std::chrono::milliseconds(1150));  // deadline + the one-second grace
  CHECK(elapsed < std::chrono::seconds(4));
  const StreamResult& r = peer.stream(id);
  CHECK(r.reset);
  CHECK(r.rst_code == 0x8);               // CANCEL
  CHECK(r.header_blocks.size() == 1);     // the response headers; no trailers
  CHECK(r.data.size() == kStreamWindow);  // the part of A the window allowed
  REQUIRE(Eventually([&] { return t.handler.finished.load(); }));
  CHECK(t.handler.saw_cancelled.load());
  CHECK_FALSE(peer.closed());
}

}  // namespace
}  // namespace h2rpc::testing
