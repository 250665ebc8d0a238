// SECURITY.md items 2-5: header-block attacks.
//   2. HEADERS followed by endless empty CONTINUATION frames → connection closed, CPU bounded.
//   3. A 64 KiB header value → that stream fails; the next request on the same connection
//      still decodes (HPACK in sync).
//   4. Headers over 8 KiB in total → that stream fails, the connection survives.
//   5. Bad base64 in a -bin header → that stream fails only; padded and unpadded accepted;
//      comma-separated values split before decoding.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "codec/metadata.h"
#include "tests/rpc/server_harness.h"

namespace h2rpc::testing {
namespace {

/// Echoes the request and returns x-marker (if sent) as initial metadata, proving the server
/// decoded that header.
TestServer MarkerServer(uint32_t max_header_list_size = 8 * 1024) {
  return StartServer([=](ServerBuilder& b) {
    ServerOptions options;
    options.max_header_list_size = max_header_list_size;
    b.SetOptions(options);
    b.RegisterMethod("/t.H/Echo", RpcKind::kUnary, [](ServerContext& ctx, ServerCall& call) {
      std::string all;
      for (const auto& [k, v] : ctx.client_metadata()) all += k + "=" + v + ";";
      ctx.AddInitialMetadata("x-seen", all.size() > 200 ? all.substr(0, 200) : all);
      return EchoHandler(ctx, call);
    });
  });
}

TEST_CASE("attack: CONTINUATION flood — connection closed quickly, others unaffected") {
  auto ts = MarkerServer();
  RawPeer attacker(ts.port);
  const std::string block = attacker.EncodeHeaderBlock(GrpcRequest("/t.H/Echo"));
  std::string flood = RawPeer::FrameBytes(kHeaders, 0, 1, block.substr(0, 3));
  const std::string empty_continuation = RawPeer::FrameBytes(kContinuation, 0, 1, "");
  for (int i = 0; i < 100000; ++i) flood += empty_continuation;  // 900 KB of nothing
  const auto start = std::chrono::steady_clock::now();
  attacker.SendRawFor(flood, std::chrono::seconds(5));
  attacker.RunUntil([&] { return attacker.closed(); }, std::chrono::seconds(5));
  CHECK(attacker.closed());
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
  RawPeer honest(ts.port);
  CHECK(honest.Unary("/t.H/Echo", "ok").GrpcStatus().ok());
}

TEST_CASE("attack: a 64 KiB header value fails that stream only; HPACK stays in sync") {
  auto ts = MarkerServer();
  RawPeer peer(ts.port);
  // The first block also inserts "x-marker: abc" into the HPACK dynamic table; the next request
  // refers to it by index, so it only decodes if the server kept its table in sync.
  const int32_t bad = peer.NextStreamId();
  peer.SendHeaders(
      bad, GrpcRequest("/t.H/Echo", {{"x-marker", "abc"}, {"x-big", std::string(65536, 'v')}}),
      true);
  REQUIRE(peer.WaitStream(bad));
  CHECK(peer.stream(bad).reset);
  CHECK_FALSE(peer.closed());
  StreamResult ok = peer.Unary("/t.H/Echo", "next", {{"x-marker", "abc"}});
  CHECK(ok.GrpcStatus().ok());
  CHECK(ok.Messages() == std::vector<std::string>{"next"});
  CHECK(ok.InitialHeader("x-seen") == "x-marker=abc;");
}

TEST_CASE("attack: headers over 8 KiB in total fail the stream; the connection survives") {
  auto ts = MarkerServer();
  RawPeer peer(ts.port);
  HeaderList many;
  for (int i = 0; i < 10; ++i)
    many.push_back({"x-h" + std::to_string(i), std::string(1000, 'a' + i)});
  const int32_t bad = peer.NextStreamId();
  peer.SendHeaders(bad, GrpcRequest("/t.H/Echo", many), true);
  REQUIRE(peer.WaitStream(bad));
  CHECK(peer.stream(bad).reset);
  // Just under the limit passes (the request's own headers take ~200 bytes).
  StreamResult under = peer.Unary("/t.H/Echo", "u", {{"x-fill", std::string(7600, 'f')}});
  CHECK(under.GrpcStatus().ok());
  StreamResult ok = peer.Unary("/t.H/Echo", "after");
  CHECK(ok.Messages() == std::vector<std::string>{"after"});

  // The limit is ServerOptions::max_header_list_size, advertised in SETTINGS.
  auto big = MarkerServer(32 * 1024);
  RawPeer peer2(big.port);
  CHECK(peer2.server_settings().at(0x6) == 32 * 1024);
  CHECK(peer2.Unary("/t.H/Echo", "x", many).GrpcStatus().ok());
}

TEST_CASE("attack: bad base64 in a -bin header fails that stream only") {
  auto ts = MarkerServer();
  RawPeer peer(ts.port);
  for (const char* bad : {"!!!!", "a", "ab=c", "YQ===", "Y Q"}) {
    CAPTURE(bad);
    StreamResult r = peer.Unary("/t.H/Echo", "x", {{"x-data-bin", bad}});
    REQUIRE(r.end_stream);
    CHECK(r.trailers_only());
    CHECK(r.GrpcStatus().code() == StatusCode::kInternal);
  }
  // Padded, unpadded, comma-separated: all accepted and decoded.
  StreamResult ok = peer.Unary("/t.H/Echo", "x", {{"x-data-bin", "YQ,YWI=,YWJj"}});
  CHECK(ok.GrpcStatus().ok());
  CHECK(ok.InitialHeader("x-seen") == "x-data-bin=a;x-data-bin=ab;x-data-bin=abc;");
}

}  // namespace
}  // namespace h2rpc::testing
