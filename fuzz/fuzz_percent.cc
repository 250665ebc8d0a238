// Fuzzes grpc-message percent-encoding. Invariants: decode(encode(x)) == x; encode's output is
// printable ASCII, at most 3x the input; decode never fails, never grows its input, and leaves
// input without '%' untouched; QuoteForMessage output is printable and bounded.
#include <cstdint>
#include <string>
#include <string_view>

#include "codec/percent.h"
#include "fuzz_check.h"

namespace {

bool IsPrintable(std::string_view s) {
  for (const char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace h2rpc::codec;
  const std::string_view x(reinterpret_cast<const char*>(data), size);

  const std::string encoded = PercentEncode(x);
  FUZZ_CHECK(IsPrintable(encoded));
  FUZZ_CHECK(encoded.size() <= 3 * x.size());
  FUZZ_CHECK(PercentDecode(encoded) == x);

  const std::string decoded = PercentDecode(x);
  FUZZ_CHECK(decoded.size() <= x.size());
  if (x.find('%') == std::string_view::npos) FUZZ_CHECK(decoded == x);
  FUZZ_CHECK(PercentDecode(PercentEncode(decoded)) == decoded);

  const std::string quoted = QuoteForMessage(x);
  FUZZ_CHECK(IsPrintable(quoted));
  FUZZ_CHECK(quoted.size() <= 4 * kMaxQuotedBytes + 5);
  return 0;
}
