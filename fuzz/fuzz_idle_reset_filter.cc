// Fuzzes IdleResetFilter, the frame walker between a server's socket and nghttp2. Invariants:
// the input minus 13 bytes per dropped frame minus what is held back is exactly what comes out;
// never more than 12 bytes are held; and cutting the input into reads of any size (the first
// byte picks it) lets through the same bytes and drops the same frames as one read.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "codec/idle_reset_filter.h"
#include "fuzz_check.h"

namespace {

using h2rpc::codec::IdleResetFilter;

struct Result {
  std::string out;
  uint64_t dropped = 0;
  size_t held = 0;
};

Result Run(const uint8_t* data, size_t size, size_t piece) {
  IdleResetFilter filter;
  Result r;
  for (size_t at = 0; at < size; at += piece) {
    const size_t read = std::min(piece, size - at);
    std::vector<uint8_t> buffer(IdleResetFilter::kMaxHeld + read);
    const size_t held = filter.held_size();
    std::memcpy(buffer.data() + held, data + at, read);
    filter.Prepend(buffer.data());
    const size_t n = filter.Filter(buffer.data(), held + read);
    FUZZ_CHECK(n <= held + read);
    FUZZ_CHECK(filter.held_size() <= IdleResetFilter::kMaxHeld);
    r.out.append(reinterpret_cast<const char*>(buffer.data()), n);
  }
  r.dropped = filter.dropped();
  r.held = filter.held_size();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] % 64;
  ++data;
  --size;
  const Result whole = Run(data, size, size == 0 ? 1 : size);
  FUZZ_CHECK(whole.out.size() + whole.dropped * 13 + whole.held == size);
  const Result cut = Run(data, size, piece);
  FUZZ_CHECK(cut.out == whole.out);
  FUZZ_CHECK(cut.dropped == whole.dropped);
  FUZZ_CHECK(cut.held == whole.held);
  return 0;
}
