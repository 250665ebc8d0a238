// Fuzzes decompression. Invariants: output never exceeds the limit; failures are
// RESOURCE_EXHAUSTED or INTERNAL with a message; Compress then Decompress returns the input,
// and with a limit one byte short it is RESOURCE_EXHAUSTED; a successful decompression
// re-compresses and decompresses to the same bytes.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "codec/compression.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using h2rpc::StatusCode;
  using namespace h2rpc::codec;
  // Input layout (from the front, so seeds stay readable): encoding selector, 3 bytes of limit
  // (up to 1 MiB: enough for bombs to hit it, small enough for libFuzzer's RSS limit), then
  // the payload.
  uint8_t header[4] = {};
  const size_t header_size = std::min(size, sizeof header);
  std::memcpy(header, data, header_size);
  const std::string input(reinterpret_cast<const char*>(data) + header_size, size - header_size);
  const Compression c = header[0] % 3 == 0   ? Compression::kIdentity
                        : header[0] % 3 == 1 ? Compression::kGzip
                                             : Compression::kDeflate;
  const size_t limit =
      ((size_t{header[1]} << 16) | (size_t{header[2]} << 8) | header[3]) % ((1 << 20) + 1);

  const auto out = Decompress(c, input, limit);
  if (out.ok()) {
    FUZZ_CHECK(out->size() <= limit);
    const auto again = Compress(c, *out);
    FUZZ_CHECK(again.ok());
    const auto back = Decompress(c, *again, out->size());
    FUZZ_CHECK(back.ok() && *back == *out);
  } else {
    const StatusCode code = out.status().code();
    FUZZ_CHECK(code == StatusCode::kResourceExhausted || code == StatusCode::kInternal);
    FUZZ_CHECK(!out.status().message().empty());
    if (c == Compression::kIdentity) FUZZ_CHECK(input.size() > limit);
  }

  const auto packed = Compress(c, input);
  FUZZ_CHECK(packed.ok());
  const auto unpacked = Decompress(c, *packed, input.size());
  FUZZ_CHECK(unpacked.ok() && *unpacked == input);
  if (!input.empty()) {
    const auto tight = Decompress(c, *packed, input.size() - 1);
    FUZZ_CHECK(tight.status().code() == StatusCode::kResourceExhausted);
  }
  return 0;
}
