// SECURITY.md item 6: SETTINGS with too many entries; SETTINGS and PING floods from a peer that
// does not read → the connection is closed (or throttled by TCP) and memory stays bounded;
// other connections are unaffected.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "tests/rpc/server_harness.h"

namespace h2rpc::testing {
namespace {

TestServer Echo() {
  return StartServer(
      [](ServerBuilder& b) { b.RegisterMethod("/t.F/Echo", RpcKind::kUnary, EchoHandler); });
}

TEST_CASE("attack: a SETTINGS frame with too many entries closes the connection") {
  auto ts = Echo();
  RawPeer attacker(ts.port);
  std::vector<std::pair<uint16_t, uint32_t>> entries;
  for (int i = 0; i < 100; ++i) entries.push_back({0x4, 65535});  // limit: 32 per frame
  attacker.SendSettings(entries);
  attacker.RunUntil([&] { return attacker.closed(); }, std::chrono::seconds(5));
  CHECK(attacker.closed());
  CHECK(attacker.goaway_received());
  CHECK(attacker.goaway_error() == 0xb);  // ENHANCE_YOUR_CALM
  RawPeer honest(ts.port);
  CHECK(honest.Unary("/t.F/Echo", "ok").GrpcStatus().ok());
}

/// Floods `frame` without reading anything back; returns how many bytes the server took.
size_t FloodWithoutReading(RawPeer& attacker, const std::string& frame, size_t count) {
  std::string batch;
  for (int i = 0; i < 1000; ++i) batch += frame;
  size_t sent = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (size_t done = 0; done < count && std::chrono::steady_clock::now() < until; done += 1000) {
    const size_t n = attacker.SendRawFor(batch, std::chrono::milliseconds(300));
    sent += n;
    if (n < batch.size()) break;  // the server stopped reading, or closed
  }
  return sent;
}

TEST_CASE("attack: PING flood while not reading — connection closed or throttled, memory bounded") {
  auto ts = Echo();
  const long rss_before = ResidentKib();
  RawPeer attacker(ts.port);
  const std::string ping = RawPeer::FrameBytes(kPing, 0, 0, std::string(8, 'p'));
  const size_t sent = FloodWithoutReading(attacker, ping, 2000000);  // up to 34 MB of PINGs
  const long rss_after = ResidentKib();
  MESSAGE("PING bytes the server accepted: " << sent
                                             << ", RSS growth KiB: " << rss_after - rss_before);
  CHECK(sent < 2000000 * ping.size());  // it never swallowed the whole flood
  CHECK(rss_after - rss_before < 64 * 1024);
  // The flooding connection is closed (nghttp2: too many queued ACKs) or blocked by TCP;
  // either way other clients are served.
  RawPeer honest(ts.port);
  CHECK(honest.Unary("/t.F/Echo", "ok").GrpcStatus().ok());
}

TEST_CASE(
    "attack: SETTINGS flood while not reading — connection closed or throttled, memory bounded") {
  auto ts = Echo();
  const long rss_before = ResidentKib();
  RawPeer attacker(ts.port);
  const std::string settings = RawPeer::FrameBytes(kSettings, 0, 0, "");
  const size_t sent = FloodWithoutReading(attacker, settings, 2000000);
  const long rss_after = ResidentKib();
  MESSAGE("SETTINGS bytes the server accepted: " << sent
                                                 << ", RSS growth KiB: " << rss_after - rss_before);
  CHECK(sent < 2000000 * settings.size());
  CHECK(rss_after - rss_before < 64 * 1024);
  RawPeer honest(ts.port);
  CHECK(honest.Unary("/t.F/Echo", "ok").GrpcStatus().ok());
}

TEST_CASE("attack: a peer that never reads responses cannot grow server memory") {
  // Requests whose responses are large, from a client that never reads: the server stops
  // producing when its output buffer is full, then stops reading requests.
  auto ts = StartServer([](ServerBuilder& b) {
    b.RegisterMethod("/t.F/Big", RpcKind::kUnary, [](ServerContext&, ServerCall& call) {
      std::string m;
      call.Read(&m);
      call.Write(std::string(256 * 1024, 'b'));
      return Status();
    });
  });
  const long rss_before = ResidentKib();
  RawPeer attacker(ts.port);
  std::string requests;
  for (int i = 0; i < 2000; ++i) {
    const int32_t id = attacker.NextStreamId();
    requests += RawPeer::FrameBytes(kHeaders, kEndHeaders, id,
                                    attacker.EncodeHeaderBlock(GrpcRequest("/t.F/Big")));
    requests += RawPeer::FrameBytes(kData, kEndStream, id, GrpcFrame("x"));
  }
  attacker.SendRawFor(requests, std::chrono::seconds(3));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const long rss_after = ResidentKib();
  MESSAGE("RSS growth KiB with 2000 unread 256 KiB responses requested: " << rss_after -
                                                                                 rss_before);
  CHECK(rss_after - rss_before < 200 * 1024);  // far below 2000 × 256 KiB = 500 MB
  RawPeer honest(ts.port);
  const StreamResult result = honest.Unary("/t.F/Big", "x");
  CHECK_MESSAGE(result.GrpcStatus().ok(), "done " << result.done() << ", reset " << result.reset
                                                  << ", " << result.data.size() << " bytes, "
                                                  << result.GrpcStatus().message());
}

}  // namespace
}  // namespace h2rpc::testing
