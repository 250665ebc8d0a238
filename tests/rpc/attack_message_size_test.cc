// SECURITY.md items 10-13: hostile message sizes.
//   10. Length prefix 0xFFFFFFFF → RESOURCE_EXHAUSTED before any allocation.
//   11. Max size + 1 → RESOURCE_EXHAUSTED, exactly max passes (server_validation_test.cc).
//   12. A gzip bomb (≈1 MB inflating to 1 GiB) → RESOURCE_EXHAUSTED, memory near the limit.
//   13. Compressed flag without grpc-encoding / flag 2 → INTERNAL (server_validation_test.cc).
#include <doctest/doctest.h>

#include <atomic>
#include <string>

#include "codec/compression.h"
#include "tests/rpc/server_harness.h"

namespace h2rpc::testing {
namespace {

TEST_CASE("attack: length prefix 0xFFFFFFFF → RESOURCE_EXHAUSTED before any allocation") {
  std::atomic<int> runs{0};
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterMethod("/t.S/Echo", RpcKind::kUnary, [&](ServerContext& c, ServerCall& call) {
      runs.fetch_add(1);
      return EchoHandler(c, call);
    });
    b.RegisterMethod("/t.S/Bidi", RpcKind::kBidiStreaming, EchoHandler);
  });
  RawPeer peer(ts.port);
  const long rss_before = ResidentKib();
  for (const char* path : {"/t.S/Echo", "/t.S/Bidi"}) {
    CAPTURE(path);
    const int32_t id = peer.NextStreamId();
    peer.SendHeaders(id, GrpcRequest(path), false);
    peer.SendData(id, std::string("\0\xff\xff\xff\xff", 5) + "just a few bytes", false);
    REQUIRE(peer.WaitStream(id));
    CHECK(peer.stream(id).GrpcStatus().code() == StatusCode::kResourceExhausted);
  }
  CHECK(ResidentKib() - rss_before < 8 * 1024);
  CHECK(runs.load() == 0);
  CHECK(peer.Unary("/t.S/Echo", "fine").GrpcStatus().ok());
}

TEST_CASE("attack: gzip bomb → RESOURCE_EXHAUSTED, memory stays near the limit") {
  std::atomic<int> handler_reads{0};
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterMethod("/t.S/Echo", RpcKind::kUnary, [&](ServerContext& c, ServerCall& call) {
      std::string m;
      if (call.Read(&m)) handler_reads.fetch_add(1);
      (void)c;
      return Status();
    });
  });
  // 16 concatenated gzip members of 64 MiB of zeros each: 1 GiB inflated, ~1 MB on the wire.
  std::string bomb;
  {
    auto member = codec::Compress(Compression::kGzip, std::string(64 * 1024 * 1024, '\0'));
    REQUIRE(member.ok());
    for (int i = 0; i < 16; ++i) bomb += *member;
  }
  REQUIRE(bomb.size() < 4 * 1024 * 1024);
  MESSAGE("bomb: " << bomb.size() << " bytes for 1 GiB");
  RawPeer peer(ts.port);
  const long rss_before = ResidentKib();
  const int32_t id = peer.NextStreamId();
  peer.SendHeaders(id, GrpcRequest("/t.S/Echo", {{"grpc-encoding", "gzip"}}), false);
  peer.SendData(id, GrpcFrame(bomb, /*compressed=*/true), true);
  REQUIRE(peer.WaitStream(id, std::chrono::seconds(20)));
  CHECK(peer.stream(id).GrpcStatus().code() == StatusCode::kResourceExhausted);
  CHECK(handler_reads.load() == 0);
  const long growth = ResidentKib() - rss_before;
  MESSAGE("RSS growth KiB: " << growth);
  CHECK(growth < 64 * 1024);  // the 4 MiB limit and a few buffers, never the gigabyte
  CHECK(peer.Unary("/t.S/Echo", "fine").GrpcStatus().ok());
}

}  // namespace
}  // namespace h2rpc::testing
