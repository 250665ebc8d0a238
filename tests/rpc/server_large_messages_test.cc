// Large request messages on the server: the I/O thread keeps a message of more than 64 KiB as
// references into the buffers the socket was read into (copying only where a reference would
// keep too much memory alive), and the handler gets the bytes exact, whatever the framing.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/rpc/server_harness.h"

namespace h2rpc::testing {
namespace {

uint64_t Fnv1a(std::string_view bytes) {
  uint64_t hash = 14695981039346656037ull;
  for (const char c : bytes) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

std::string Digest(std::string_view bytes) {
  return std::to_string(bytes.size()) + ":" + std::to_string(Fnv1a(bytes));
}

/// Bytes that differ from stream to stream and message to message, so a mix-up shows.
std::string Pattern(size_t size, uint32_t seed) {
  std::string bytes(size, '\0');
  uint32_t state = seed * 2654435761u + 1;
  for (char& c : bytes) {
    state = state * 1664525u + 1013904223u;
    c = static_cast<char>(state >> 24);
  }
  return bytes;
}

/// Answers every request message with its digest.
Status DigestHandler(ServerContext&, ServerCall& call) {
  std::string message;
  while (call.Read(&message)) {
    if (!call.Write(Digest(message))) return Status(StatusCode::kCancelled, "write failed");
  }
  return Status();
}

TEST_CASE("server: large requests in 97-byte DATA frames on six interleaved streams arrive exact") {
  // Every socket read then carries a little of every message: the references a message may
  // keep run out after a few read buffers and the rest is copied — both paths in one message.
  auto ts = StartServer([](ServerBuilder& b) {
    b.RegisterMethod("/t.L/Digest", RpcKind::kBidiStreaming, DigestHandler);
  });
  RawPeer peer(ts.port);
  REQUIRE(peer.connected());
  constexpr int kStreams = 6;
  constexpr size_t kFrame = 97;
  std::vector<int32_t> ids;
  std::vector<std::string> wire;                   // per stream: its framed messages
  std::vector<std::vector<std::string>> expected;  // per stream: the digests
  for (int i = 0; i < kStreams; ++i) {
    ids.push_back(peer.NextStreamId());
    REQUIRE(peer.SendHeaders(ids.back(), GrpcRequest("/t.L/Digest"), false));
    const std::string first = Pattern(300 * 1024 + 7 * static_cast<size_t>(i), 2 * i);
    const std::string second = Pattern(70 * 1024 + static_cast<size_t>(i), 2 * i + 1);
    wire.push_back(GrpcFrame(first) + GrpcFrame(second));
    expected.push_back({Digest(first), Digest(second)});
  }
  std::string batch;
  for (size_t offset = 0;; offset += kFrame) {
    bool any = false;
    for (int i = 0; i < kStreams; ++i) {
      if (offset >= wire[i].size()) continue;
      any = true;
      const bool last = offset + kFrame >= wire[i].size();
      batch += RawPeer::FrameBytes(kData, last ? kEndStream : 0, ids[i],
                                   std::string_view(wire[i]).substr(offset, kFrame));
    }
    if (batch.size() >= 64 * 1024 || (!any && !batch.empty())) {
      REQUIRE(peer.SendRaw(batch));
      batch.clear();
    }
    if (!any) break;
  }
  REQUIRE(peer.RunUntil(
      [&] {
        for (const int32_t id : ids) {
          if (!peer.stream(id).done()) return false;
        }
        return true;
      },
      std::chrono::seconds(20)));
  for (int i = 0; i < kStreams; ++i) {
    CAPTURE(i);
    const StreamResult& result = peer.stream(ids[i]);
    CHECK(result.GrpcStatus().ok());
    CHECK(result.Messages() == expected[i]);
  }
}

TEST_CASE("server: a large request cut off by RST_STREAM or a lost connection frees its handler") {
  std::atomic<int> ended{0};
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterMethod("/t.L/Digest", RpcKind::kBidiStreaming,
                     [&](ServerContext& context, ServerCall& call) {
                       Status status = DigestHandler(context, call);
                       ended.fetch_add(1);
                       return status;
                     });
  });
  const std::string message = Pattern(300 * 1024, 99);
  const std::string half = GrpcFrame(message).substr(0, 150 * 1024);
  // Opens a call and sends half of `message`: the stream id.
  auto start_cut_off = [&](RawPeer& peer) {
    REQUIRE(peer.connected());
    const int32_t id = peer.NextStreamId();
    REQUIRE(peer.SendHeaders(id, GrpcRequest("/t.L/Digest"), false));
    REQUIRE(peer.SendData(id, half, false));
    return id;
  };
  auto check_served = [&](RawPeer& peer) {
    StreamResult next = peer.Unary("/t.L/Digest", message);
    CHECK(next.GrpcStatus().ok());
    CHECK(next.Messages() == std::vector<std::string>{Digest(message)});
  };
  SUBCASE("RST_STREAM: the connection serves the next call") {
    RawPeer peer(ts.port);
    REQUIRE(peer.SendRst(start_cut_off(peer), 0x8 /*CANCEL*/));
    REQUIRE(Eventually([&] { return ended.load() == 1; }));
    check_served(peer);
  }
  SUBCASE("the connection drops: a new one is served") {
    {
      RawPeer peer(ts.port);
      start_cut_off(peer);
    }  // closed mid-message
    REQUIRE(Eventually([&] { return ended.load() == 1; }));
    RawPeer again(ts.port);
    check_served(again);
  }
}

}  // namespace
}  // namespace h2rpc::testing
