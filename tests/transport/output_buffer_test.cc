// OutputBuffer: gather writes that copy small frames and reference message bytes in place.
#include <doctest/doctest.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string>

#include "transport/output_buffer.h"

namespace h2rpc::transport {
namespace {

/// A writev like a socket with room for `limit` bytes: takes that much, then says EAGAIN.
auto Writer(std::string* out, size_t limit) {
  return [out, room = limit](const iovec* iov, int count) mutable -> ssize_t {
    if (room == 0) {
      errno = EAGAIN;
      return -1;
    }
    size_t taken = 0;
    for (int i = 0; i < count && taken < room; ++i) {
      const size_t n = std::min(iov[i].iov_len, room - taken);
      out->append(static_cast<const char*>(iov[i].iov_base), n);
      taken += n;
    }
    room -= taken;
    return static_cast<ssize_t>(taken);
  };
}

TEST_CASE("copied and referenced bytes go out in order, partial writes resume") {
  OutputBuffer buffer;
  auto message = std::make_shared<const std::string>("0123456789");
  buffer.AppendCopy(reinterpret_cast<const uint8_t*>("head"), 4);
  buffer.AppendRef(message, message->data() + 2, 6);
  buffer.AppendCopy(reinterpret_cast<const uint8_t*>("tail"), 4);
  CHECK(buffer.size() == 14);
  std::string wire;
  CHECK(buffer.Flush(Writer(&wire, 5)) == 5);
  CHECK(buffer.Flush(Writer(&wire, 100)) == 9);
  CHECK(wire == "head234567tail");
  CHECK(buffer.empty());
}

TEST_CASE("References: true while unwritten bytes of the owner remain, false once written") {
  // A client unary request lives in its call state; it may go back to the buffer pool only
  // when no queued DATA frame still points into it (a reset stream with a full socket).
  struct CallState {
    std::string first_message = std::string(1000, 'x');
  };
  auto state = std::make_shared<CallState>();
  std::shared_ptr<const std::string> owner(state, &state->first_message);
  std::string other = "other";

  OutputBuffer buffer;
  CHECK_FALSE(buffer.References(&state->first_message));
  buffer.AppendCopy(reinterpret_cast<const uint8_t*>("frame-header"), 9);
  buffer.AppendRef(owner, state->first_message.data(), 600);
  CHECK(buffer.References(&state->first_message));
  CHECK_FALSE(buffer.References(&other));

  std::string wire;
  buffer.Flush(Writer(&wire, 300));  // part of the referenced bytes still waits
  CHECK(buffer.References(&state->first_message));
  buffer.Flush(Writer(&wire, 1000));
  CHECK_FALSE(buffer.References(&state->first_message));
  CHECK(wire.size() == 609);
}

TEST_CASE("a written referenced message is released at once, not when the buffer empties") {
  OutputBuffer buffer;
  auto message = std::make_shared<const std::string>(std::string(100, 'm'));
  buffer.AppendCopy(reinterpret_cast<const uint8_t*>("hdr"), 3);
  buffer.AppendRef(message, message->data(), message->size());
  buffer.AppendCopy(reinterpret_cast<const uint8_t*>("trailers"), 8);
  CHECK(message.use_count() == 2);
  std::string wire;
  buffer.Flush(Writer(&wire, 105));  // the message is out, the trailers are not
  CHECK(message.use_count() == 1);
  buffer.Flush(Writer(&wire, 100));
  CHECK(wire == "hdr" + *message + "trailers");
}

TEST_CASE("thousands of appends and partial writes keep every byte in order") {
  // Exercises reusing written segments' strings and erasing written segments from the front
  // while unwritten ones remain (a socket that takes a little less than what is queued).
  OutputBuffer buffer;
  std::string expected, wire;
  uint32_t seed = 12345;
  const auto next = [&seed] {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 8) % 1000;
  };
  for (int round = 0; round < 2000; ++round) {
    const int appends = 1 + static_cast<int>(next() % 6);
    for (int i = 0; i < appends; ++i) {
      const size_t len = 1 + next() % 300;
      std::string bytes(len, static_cast<char>('a' + next() % 26));
      if (next() % 2 == 0) {
        buffer.AppendCopy(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      } else {
        auto owner = std::make_shared<const std::string>(bytes);
        buffer.AppendRef(owner, owner->data(), owner->size());
      }
      expected += bytes;
    }
    const size_t room = next() % 2 == 0 ? buffer.size() : buffer.size() * (next() % 100) / 100;
    if (room > 0) buffer.Flush(Writer(&wire, room));
    REQUIRE(wire.size() + buffer.size() == expected.size());
  }
  buffer.Flush(Writer(&wire, buffer.size()));
  CHECK(buffer.empty());
  CHECK(wire == expected);
}

TEST_CASE("a written batch's copy capacity serves the next batch, bounded") {
  OutputBuffer buffer;
  std::string wire, expected;
  const std::string frame = "0123456789";
  for (int batch = 0; batch < 3; ++batch) {
    for (int i = 0; i < 800; ++i) {  // 8,000 bytes coalesced into one segment
      buffer.AppendCopy(reinterpret_cast<const uint8_t*>(frame.data()), frame.size());
      expected += frame;
    }
    // While the batch waits, its segment holds the capacity: nothing spare.
    CHECK(buffer.spare_capacity() < 256);
    CHECK(buffer.Flush(Writer(&wire, 1 << 20)) == 8000);
    CHECK(buffer.spare_capacity() >= 8000);  // kept for the next batch
  }
  CHECK(wire == expected);
  // A copy larger than a segment's bound is not kept.
  OutputBuffer large;
  const std::string big(64 * 1024, 'x');
  large.AppendCopy(reinterpret_cast<const uint8_t*>(big.data()), big.size());
  std::string out;
  CHECK(large.Flush(Writer(&out, 1 << 20)) == static_cast<ssize_t>(big.size()));
  CHECK(large.spare_capacity() <= 16 * 1024);
}

}  // namespace
}  // namespace h2rpc::transport
