// ClientStreamState's buffer return path: large message buffers the reader is done with go
// back to the I/O thread's deframer instead of being freed and faulted in again.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "codec/framing.h"
#include "transport/client_stream_state.h"

namespace h2rpc::transport {
namespace {

std::string LargeBuffer(char fill) {
  std::string buffer(codec::kDeframerInitialReserve + 1, fill);
  return buffer;
}

TEST_CASE("returned buffers: a burst of large ones is kept, small ones are not") {
  ClientStreamState state;
  state.ReturnBuffer(std::string(16, 's'));  // small: the deframer gets those cheaply anyway
  CHECK(state.TakeReturnedBuffer() == nullptr);

  // A reader that fell behind returns several buffers before the I/O thread takes one.
  const std::string fills = "abcdef";
  for (char fill : fills) state.ReturnBuffer(LargeBuffer(fill));
  std::vector<char> taken;
  while (std::unique_ptr<std::string> buffer = state.TakeReturnedBuffer()) {
    CHECK(buffer->capacity() > codec::kDeframerInitialReserve);
    taken.push_back(buffer->front());
  }
  // The slots hold a bounded number (the rest were freed), and that number is more than one.
  CHECK(taken.size() >= 4);
  CHECK(taken.size() < fills.size());
  CHECK(state.TakeReturnedBuffer() == nullptr);
}

TEST_CASE("returned buffers: reader and I/O thread hand buffers over concurrently") {
  ClientStreamState state;
  constexpr int kRounds = 2000;
  std::thread reader([&] {
    for (int i = 0; i < kRounds; ++i) state.ReturnBuffer(LargeBuffer('r'));
  });
  int taken = 0;
  for (int i = 0; i < kRounds; ++i) {
    if (std::unique_ptr<std::string> buffer = state.TakeReturnedBuffer()) {
      CHECK(buffer->size() == codec::kDeframerInitialReserve + 1);
      ++taken;
    }
  }
  reader.join();
  while (state.TakeReturnedBuffer()) ++taken;
  CHECK(taken > 0);
  // Whatever is left in the slots is freed by the destructor (ASan checks that nothing leaks).
}

}  // namespace
}  // namespace h2rpc::transport
