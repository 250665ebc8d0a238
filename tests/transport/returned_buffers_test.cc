// ReturnedBuffers: large message buffers a reader is done with go back to the I/O thread's
// deframer instead of being freed and faulted in again (client and server streams).
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "codec/framing.h"
#include "transport/returned_buffers.h"

namespace h2rpc::transport {
namespace {

std::string LargeBuffer(char fill) {
  std::string buffer(codec::kDeframerInitialReserve + 1, fill);
  return buffer;
}

TEST_CASE("returned buffers: a burst of large ones is kept, small ones are not") {
  ReturnedBuffers state;
  state.Give(std::string(16, 's'));  // small: the deframer gets those cheaply anyway
  CHECK(state.Take() == nullptr);

  // A reader that fell behind returns several buffers before the I/O thread takes one.
  const std::string fills = "abcdef";
  for (char fill : fills) state.Give(LargeBuffer(fill));
  std::vector<char> taken;
  while (std::unique_ptr<std::string> buffer = state.Take()) {
    CHECK(buffer->capacity() > codec::kDeframerInitialReserve);
    taken.push_back(buffer->front());
  }
  // The slots hold a bounded number (the rest were freed), and that number is more than one.
  CHECK(taken.size() >= 4);
  CHECK(taken.size() < fills.size());
  CHECK(state.Take() == nullptr);
}

TEST_CASE("returned buffers: reader and I/O thread hand buffers over concurrently") {
  ReturnedBuffers state;
  constexpr int kRounds = 2000;
  std::thread reader([&] {
    for (int i = 0; i < kRounds; ++i) state.Give(LargeBuffer('r'));
  });
  int taken = 0;
  for (int i = 0; i < kRounds; ++i) {
    if (std::unique_ptr<std::string> buffer = state.Take()) {
      CHECK(buffer->size() == codec::kDeframerInitialReserve + 1);
      ++taken;
    }
  }
  reader.join();
  while (state.Take()) ++taken;
  CHECK(taken > 0);
  // Whatever is left in the slots is freed by the destructor (ASan checks that nothing leaks).
}

}  // namespace
}  // namespace h2rpc::transport

namespace h2rpc::transport {
namespace {

TEST_CASE("lazy returned buffers: nothing allocated for small ones, then the same slots") {
  LazyReturnedBuffers lazy;
  CHECK(lazy.Take() == nullptr);
  lazy.Give(std::string(16, 's'));
  CHECK(lazy.Take() == nullptr);
  for (char fill : std::string("abcdef")) lazy.Give(LargeBuffer(fill));
  size_t taken = 0;
  while (lazy.Take()) ++taken;
  CHECK(taken == ReturnedBuffers::kSlots);
  lazy.Give(LargeBuffer('z'));  // left for the destructor (ASan: no leak)
}

}  // namespace
}  // namespace h2rpc::transport
