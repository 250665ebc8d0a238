// Tests of codec/framing: the 5-byte prefix and the incremental Deframer.
#include "codec/framing.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "alloc_counter.h"

namespace h2rpc::codec {
namespace {

constexpr uint32_t kFourMiB = 4 * 1024 * 1024;

/// Everything a deframer produced from one input.
struct Outcome {
  std::vector<DeframedMessage> messages;
  Status status;  // status() after feeding
  Status finish;  // Finish() after feeding
  size_t consumed = 0;
  size_t max_buffered = 0;
};

/// Feeds `input` in chunks of the sizes `chunk()` returns, draining messages as the
/// documented usage loop does.
template <typename ChunkFn>
Outcome Run(std::string_view input, uint32_t max, bool negotiated, ChunkFn chunk) {
  Deframer d(max, negotiated);
  Outcome out;
  size_t pos = 0;
  while (pos < input.size() && !d.failed()) {
    const size_t n = std::min(chunk(), input.size() - pos);
    std::string_view piece = input.substr(pos, n);
    while (!piece.empty() && !d.failed()) {
      const size_t used = d.Feed(piece);
      out.max_buffered = std::max(out.max_buffered, d.buffered_bytes());
      piece.remove_prefix(used);
      pos += used;
      while (auto m = d.Next()) out.messages.push_back(std::move(*m));
    }
  }
  out.consumed = pos;
  out.status = d.status();
  out.finish = d.Finish();
  return out;
}

Outcome RunWhole(std::string_view input, uint32_t max = kFourMiB, bool negotiated = false) {
  return Run(input, max, negotiated, [&] { return input.size() + 1; });
}

Outcome RunBytewise(std::string_view input, uint32_t max = kFourMiB, bool negotiated = false) {
  return Run(input, max, negotiated, [] { return size_t{1}; });
}

std::string Prefix(uint8_t flag, uint32_t length) {
  uint8_t p[kFramePrefixSize];
  EncodeFramePrefix(false, length, p);
  p[0] = flag;
  return std::string(reinterpret_cast<const char*>(p), sizeof p);
}

TEST_CASE("EncodeFramePrefix writes flag and big-endian length") {
  struct Case {
    bool compressed;
    uint32_t length;
    std::string want;
  };
  const Case cases[] = {
      {false, 0, std::string("\0\0\0\0\0", 5)},
      {true, 0, std::string("\1\0\0\0\0", 5)},
      {false, 1, std::string("\0\0\0\0\1", 5)},
      {false, 0x01020304, std::string("\0\1\2\3\4", 5)},
      {true, 0xFFFFFFFF, std::string("\1\xFF\xFF\xFF\xFF", 5)},
  };
  for (const Case& c : cases) {
    uint8_t out[kFramePrefixSize];
    EncodeFramePrefix(c.compressed, c.length, out);
    CHECK(std::string(reinterpret_cast<char*>(out), 5) == c.want);
  }
}

TEST_CASE("EncodeFrame is prefix plus payload") {
  CHECK(EncodeFrame("") == std::string("\0\0\0\0\0", 5));
  CHECK(EncodeFrame("abc") == std::string("\0\0\0\0\3abc", 8));
  CHECK(EncodeFrame("abc", true) == std::string("\1\0\0\0\3abc", 8));
  const std::string big(70000, 'x');
  const std::string framed = EncodeFrame(big);
  REQUIRE(framed.size() == big.size() + 5);
  CHECK(framed.substr(0, 5) == std::string("\0\0\x01\x11\x70", 5));
  CHECK(framed.substr(5) == big);
}

TEST_CASE("Deframer yields whole messages whatever the chunking") {
  const std::string input = EncodeFrame("hello") + EncodeFrame("") +
                            EncodeFrame(std::string(100000, 'z')) + EncodeFrame("x");
  for (const Outcome& o : {RunWhole(input), RunBytewise(input)}) {
    REQUIRE(o.messages.size() == 4);
    CHECK(o.messages[0].payload == "hello");
    CHECK(o.messages[1].payload.empty());
    CHECK(o.messages[2].payload == std::string(100000, 'z'));
    CHECK(o.messages[3].payload == "x");
    for (const auto& m : o.messages) CHECK_FALSE(m.compressed);
    CHECK(o.status.ok());
    CHECK(o.finish.ok());
    CHECK(o.consumed == input.size());
  }
}

TEST_CASE("Feed stops after each complete message until Next takes it") {
  const std::string input = EncodeFrame("ab") + EncodeFrame("cd");
  Deframer d(100);
  CHECK(d.Feed(input) == 7);
  CHECK(d.buffered_bytes() == 7);
  CHECK(d.Feed(std::string_view(input).substr(7)) == 0);  // first message still waiting
  auto m = d.Next();
  REQUIRE(m.has_value());
  CHECK(m->payload == "ab");
  CHECK_FALSE(d.Next().has_value());
  CHECK(d.buffered_bytes() == 0);
  CHECK(d.Feed(std::string_view(input).substr(7)) == 7);
  m = d.Next();
  REQUIRE(m.has_value());
  CHECK(m->payload == "cd");
  CHECK(d.Finish().ok());
  CHECK(d.Feed(std::string_view()) == 0);
}

TEST_CASE("A completed message not yet taken does not make Finish fail") {
  Deframer d(100);
  CHECK(d.Feed(EncodeFrame("x")) == 6);
  CHECK(d.Finish().ok());
}

TEST_CASE("Message size limit: exactly max passes, max + 1 fails before allocation") {
  const uint32_t max = 1000;
  SUBCASE("exactly max") {
    const Outcome o = RunBytewise(EncodeFrame(std::string(max, 'a')), max);
    REQUIRE(o.messages.size() == 1);
    CHECK(o.messages[0].payload.size() == max);
    CHECK(o.status.ok());
    CHECK(o.max_buffered <= max + 5);
  }
  SUBCASE("max + 1") {
    const Outcome o = RunBytewise(EncodeFrame(std::string(max + 1, 'a')), max);
    CHECK(o.messages.empty());
    CHECK(o.status.code() == StatusCode::kResourceExhausted);
    CHECK(o.status.message() == "received message larger than max (1001 vs. 1000)");
    CHECK(o.consumed == 5);  // failed right after the prefix
    CHECK(o.max_buffered <= 5);
    CHECK(o.finish == o.status);
  }
  SUBCASE("4 MiB default, the issue's wording") {
    Deframer d(kFourMiB);
    CHECK(d.Feed(Prefix(0, kFourMiB + 1)) == 5);
    CHECK(d.status().code() == StatusCode::kResourceExhausted);
    CHECK(d.status().message() == "received message larger than max (4194305 vs. 4194304)");
    CHECK(d.buffered_bytes() == 0);
  }
  SUBCASE("max zero allows only empty messages") {
    CHECK(RunWhole(EncodeFrame(""), 0).messages.size() == 1);
    CHECK(RunWhole(EncodeFrame("a"), 0).status.code() == StatusCode::kResourceExhausted);
  }
}

TEST_CASE("Length prefix 0xFFFFFFFF is RESOURCE_EXHAUSTED before any allocation") {
  const std::string input = Prefix(0, 0xFFFFFFFF) + "trailing";
  Deframer d(kFourMiB);
  {
    const testing::AllocationScope scope;
    CHECK(d.Feed(input) == 5);
    CHECK(scope.Peak() <= 512);  // only the error message, nothing for the payload
  }
  CHECK(d.failed());
  CHECK(d.status().code() == StatusCode::kResourceExhausted);
  CHECK(d.status().message() == "received message larger than max (4294967295 vs. 4194304)");
  CHECK(d.buffered_bytes() == 0);
  CHECK(d.Feed(input) == 0);  // stops for good
  CHECK_FALSE(d.Next().has_value());
}

TEST_CASE("A peer claiming a large message and sending little costs little") {
  const std::string input = Prefix(0, kFourMiB) + "12345";
  const testing::AllocationScope scope;
  Deframer d(kFourMiB);
  CHECK(d.Feed(input) == 10);
  CHECK(scope.Peak() <= kDeframerInitialReserve + 64);
  CHECK(d.buffered_bytes() == 10);
  CHECK(d.Finish().code() == StatusCode::kInternal);
  CHECK(d.Finish().message() == "stream ended mid-message: received 5 of 4194304 payload bytes");
}

TEST_CASE("Buffer grows with the bytes received, never beyond the claimed length") {
  const uint32_t length = 300000;
  const std::string input = EncodeFrame(std::string(length, 'q'));
  Deframer d(kFourMiB);
  size_t pos = 0;
  while (pos < input.size()) {
    const size_t used = d.Feed(std::string_view(input).substr(pos, 777));
    pos += used;
    CHECK(d.buffered_bytes() <= length + 5);
  }
  auto m = d.Next();
  REQUIRE(m.has_value());
  CHECK(m->payload.size() == length);
  CHECK(m->payload.capacity() <= length + 64);
}

TEST_CASE("A recycled buffer carries the next large message without allocating") {
  const uint32_t length = 1 << 20;
  const std::string input = EncodeFrame(std::string(length, 'r'));
  Deframer d(kFourMiB);
  CHECK(d.wants_buffer());
  std::string spare;
  spare.reserve(length);
  const char* spare_data = spare.data();
  d.RecycleBuffer(std::move(spare));
  CHECK_FALSE(d.wants_buffer());
  {
    const testing::AllocationScope scope;
    size_t pos = 0;
    while (pos < input.size()) pos += d.Feed(std::string_view(input).substr(pos, 16384));
    CHECK(scope.Peak() < 1024);  // the payload went into the recycled buffer
  }
  auto m = d.Next();
  REQUIRE(m.has_value());
  CHECK(m->payload == std::string(length, 'r'));
  CHECK(m->payload.data() == spare_data);
  CHECK(d.wants_buffer());
}

TEST_CASE("A recycled buffer is kept for large messages and released on failure") {
  Deframer d(kFourMiB);
  std::string spare;
  spare.reserve(1 << 20);
  const char* spare_data = spare.data();
  d.RecycleBuffer(std::move(spare));
  // A small message does not take it.
  REQUIRE(d.Feed(EncodeFrame("small")) == 10);
  auto small = d.Next();
  REQUIRE(small.has_value());
  CHECK(small->payload.data() != spare_data);
  CHECK_FALSE(d.wants_buffer());
  // A second spare is refused while one is held.
  std::string another(200000, 'x');
  d.RecycleBuffer(std::move(another));
  // A bad flag fails the stream: nothing more is held, nothing more is taken.
  d.Feed(Prefix(7, 3) + "abc");
  CHECK(d.failed());
  CHECK(d.buffered_bytes() == 0);
  CHECK_FALSE(d.wants_buffer());
}

/// Records what a Deframer::PayloadSink was given.
struct SinkLog {
  std::string_view fed;  // the current Feed() input
  std::string bytes;
  size_t pieces = 0;
  bool all_inside_fed = true;
};

void LogPiece(void* context, const uint8_t* data, size_t size) {
  auto& log = *static_cast<SinkLog*>(context);
  const auto* fed = reinterpret_cast<const uint8_t*>(log.fed.data());
  log.all_inside_fed = log.all_inside_fed && data >= fed && data + size <= fed + log.fed.size();
  log.bytes.append(reinterpret_cast<const char*>(data), size);
  ++log.pieces;
}

constexpr Deframer::Hooks kLogHooks{nullptr, &LogPiece};

TEST_CASE("A payload sink takes large uncompressed payloads as references into the input") {
  const uint32_t length = kDeframerInitialReserve + 1000;
  std::string large(length, 'L');
  large[0] = 'a';
  large[length - 1] = 'z';
  const std::string input = EncodeFrame("small") + EncodeFrame(large) + EncodeFrame("after") +
                            EncodeFrame(std::string(length, 'c'), /*compressed=*/true);
  Deframer d(kFourMiB, /*compression_negotiated=*/true);
  SinkLog log;
  d.set_hooks(&kLogHooks, &log);
  std::vector<DeframedMessage> messages;
  messages.reserve(4);
  log.bytes.reserve(length);  // the log's own copy is not the deframer's
  size_t pos = 0;
  size_t max_buffered = 0;
  {
    const testing::AllocationScope scope;
    while (pos < input.size() && messages.size() < 3) {
      log.fed = std::string_view(input).substr(pos, 16384);
      pos += d.Feed(log.fed);
      max_buffered = std::max(max_buffered, d.buffered_bytes());
      while (auto m = d.Next()) messages.push_back(std::move(*m));
    }
    CHECK_MESSAGE(scope.Peak() < 1024, scope.Peak());  // the large payload was never copied
  }
  while (pos < input.size()) {
    log.fed = std::string_view(input).substr(pos, 16384);
    pos += d.Feed(log.fed);
    while (auto m = d.Next()) messages.push_back(std::move(*m));
  }
  REQUIRE(messages.size() == 4);
  CHECK_FALSE(messages[0].in_sink);
  CHECK(messages[0].payload == "small");
  CHECK(messages[1].in_sink);
  CHECK(messages[1].payload.empty());
  CHECK(log.bytes.size() == length);
  CHECK(log.bytes == large);
  CHECK(log.pieces >= length / 16384);
  CHECK(log.all_inside_fed);
  CHECK(max_buffered == length + kFramePrefixSize);  // counted while the sink holds the bytes
  CHECK_FALSE(messages[2].in_sink);
  CHECK(messages[2].payload == "after");
  // Compressed payloads are decompressed from one buffer, so they never go to the sink.
  CHECK_FALSE(messages[3].in_sink);
  CHECK(messages[3].compressed);
  CHECK(messages[3].payload.size() == length);
  CHECK(log.bytes.size() == length);
  CHECK(d.Finish().ok());
}

TEST_CASE("A stream ending inside a sink payload says how much arrived") {
  Deframer d(kFourMiB);
  SinkLog log;
  d.set_hooks(&kLogHooks, &log);
  const std::string input = Prefix(0, kDeframerInitialReserve + 10000) + std::string(70000, 'p');
  log.fed = input;
  CHECK(d.Feed(input) == input.size());
  CHECK(d.buffered_bytes() == 70005);
  CHECK_FALSE(d.Next().has_value());
  const Status s = d.Finish();
  CHECK(s.code() == StatusCode::kInternal);
  CHECK(s.message() == "stream ended mid-message: received 70000 of 75536 payload bytes");
}

TEST_CASE("Compressed flag rules") {
  SUBCASE("flag 1 without negotiated encoding is INTERNAL") {
    const Outcome o = RunWhole(EncodeFrame("abc", true));
    CHECK(o.messages.empty());
    CHECK(o.status.code() == StatusCode::kInternal);
    CHECK(o.status.message().find("grpc-encoding") != std::string::npos);
  }
  SUBCASE("flag 1 with negotiated encoding is delivered as compressed") {
    const Outcome o = RunBytewise(EncodeFrame("abc", true) + EncodeFrame("d"), kFourMiB, true);
    REQUIRE(o.messages.size() == 2);
    CHECK(o.messages[0].compressed);
    CHECK(o.messages[0].payload == "abc");
    CHECK_FALSE(o.messages[1].compressed);
  }
  SUBCASE("set_compression_negotiated applies to later messages") {
    Deframer d(100);
    d.set_compression_negotiated(true);
    CHECK(d.Feed(EncodeFrame("a", true)) == 6);
    CHECK(d.Next()->compressed);
  }
  for (const int flag : {2, 3, 0x80, 0xFF}) {
    CAPTURE(flag);
    for (const bool negotiated : {false, true}) {
      const Outcome o = RunWhole(Prefix(static_cast<uint8_t>(flag), 1) + "x", 100, negotiated);
      CHECK(o.status.code() == StatusCode::kInternal);
      CHECK(o.status.message() == "invalid compressed flag " + std::to_string(flag) +
                                      " in message prefix (must be 0 or 1)");
      CHECK(o.messages.empty());
    }
  }
}

TEST_CASE("set_max_message_size applies to the next prefix") {
  Deframer d(10);
  d.set_max_message_size(2);
  CHECK(d.Feed(EncodeFrame("abc")) == 5);
  CHECK(d.status().code() == StatusCode::kResourceExhausted);
  CHECK(d.status().message() == "received message larger than max (3 vs. 2)");
}

TEST_CASE("Stream ending mid-message is INTERNAL") {
  struct Case {
    std::string input;
    std::string message;  // empty = Finish is OK
  };
  const std::string frame = EncodeFrame("hello");
  const Case cases[] = {
      {"", ""},
      {frame, ""},
      {frame.substr(0, 1), "stream ended mid-message: received 1 of 5 message prefix bytes"},
      {frame.substr(0, 4), "stream ended mid-message: received 4 of 5 message prefix bytes"},
      {frame.substr(0, 5), "stream ended mid-message: received 0 of 5 payload bytes"},
      {frame.substr(0, 9), "stream ended mid-message: received 4 of 5 payload bytes"},
      {frame + frame.substr(0, 2),
       "stream ended mid-message: received 2 of 5 message prefix bytes"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.input.size());
    for (const Outcome& o : {RunWhole(c.input), RunBytewise(c.input)}) {
      CHECK(o.status.ok());
      if (c.message.empty()) {
        CHECK(o.finish.ok());
      } else {
        CHECK(o.finish.code() == StatusCode::kInternal);
        CHECK(o.finish.message() == c.message);
      }
    }
  }
}

TEST_CASE("buffered_bytes counts prefix and payload") {
  Deframer d(100);
  CHECK(d.buffered_bytes() == 0);
  CHECK(d.Feed(std::string_view("\0\0", 2)) == 2);
  CHECK(d.buffered_bytes() == 2);
  CHECK(d.Feed(std::string_view("\0\0\3ab", 5)) == 5);
  CHECK(d.buffered_bytes() == 7);
  CHECK(d.Feed(std::string_view("c")) == 1);
  CHECK(d.buffered_bytes() == 8);
  CHECK(d.Next()->payload == "abc");
  CHECK(d.buffered_bytes() == 0);
}

TEST_CASE("Round trip: EncodeFrame then Deframer over random chunkings") {
  std::mt19937 rng(12345);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> payloads;
    std::vector<bool> flags;
    std::string input;
    const int count = static_cast<int>(rng() % 6);
    for (int i = 0; i < count; ++i) {
      const size_t size = rng() % 4 == 0 ? rng() % 70000 : rng() % 40;
      std::string p(size, '\0');
      for (char& ch : p) ch = static_cast<char>(rng());
      const bool compressed = rng() % 2 == 0;
      input += EncodeFrame(p, compressed);
      payloads.push_back(std::move(p));
      flags.push_back(compressed);
    }
    const Outcome o =
        Run(input, 70000, true, [&] { return size_t{1} + rng() % (rng() % 2 ? 7 : 9000); });
    REQUIRE(o.messages.size() == payloads.size());
    for (size_t i = 0; i < payloads.size(); ++i) {
      CHECK(o.messages[i].payload == payloads[i]);
      CHECK(o.messages[i].compressed == flags[i]);
    }
    CHECK(o.status.ok());
    CHECK(o.finish.ok());
    CHECK(o.max_buffered <= 70000 + 5);
  }
}

TEST_CASE("Oversized payloads cannot be framed") {
  // A string_view may claim more than 4 GiB without owning it: EncodeFrame must check the size
  // before touching the data.
  if constexpr (sizeof(size_t) > 4) {
    const std::string_view huge(reinterpret_cast<const char*>(1), kMaxFramePayload + 1);
    CHECK(EncodeFrame(huge).empty());
  }
}

}  // namespace
}  // namespace h2rpc::codec
