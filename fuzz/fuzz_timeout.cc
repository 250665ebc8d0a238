// Fuzzes grpc-timeout parsing and formatting. Invariants: a value parses only if it is 1-8
// digits and a unit; a parsed value is within [0, kMaxTimeout] and format(parse(x)) parses back
// to at least the same duration (rounded up by less than one part in 10^4); any int64 duration
// formats to at most 9 characters that parse back to at least itself (clamped).
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "codec/timeout.h"
#include "fuzz_check.h"

namespace {

using h2rpc::StatusCode;
using h2rpc::codec::FormatTimeout;
using h2rpc::codec::kMaxTimeout;
using h2rpc::codec::ParseTimeout;
using std::chrono::nanoseconds;

/// The documented grammar, written independently of the parser.
bool IsWellFormed(std::string_view text) {
  if (text.size() < 2 || text.size() > 9) return false;
  if (std::string_view("HMSmun").find(text.back()) == std::string_view::npos) return false;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
  }
  return true;
}

/// parse(format(want)) is at least `want` and not much more.
void CheckFormatted(nanoseconds want) {
  const std::string text = FormatTimeout(want);
  FUZZ_CHECK(text.size() >= 2 && text.size() <= 9);
  const auto back = ParseTimeout(text);
  FUZZ_CHECK(back.ok());
  const int64_t floor = std::max<int64_t>(0, std::min(want.count(), kMaxTimeout.count()));
  FUZZ_CHECK(back->count() >= floor);
  FUZZ_CHECK(back->count() - floor <= floor / 10000 + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = ParseTimeout(text);
  FUZZ_CHECK(parsed.ok() == IsWellFormed(text));
  if (parsed.ok()) {
    FUZZ_CHECK(parsed->count() >= 0);
    FUZZ_CHECK(*parsed <= kMaxTimeout);
    CheckFormatted(*parsed);
  } else {
    FUZZ_CHECK(parsed.status().code() == StatusCode::kInvalidArgument);
    FUZZ_CHECK(!parsed.status().message().empty());
    FUZZ_CHECK(parsed.status().message().size() < 400);  // the value is quoted, truncated
  }
  if (size >= sizeof(int64_t)) {
    int64_t ns = 0;
    std::memcpy(&ns, data, sizeof ns);
    CheckFormatted(nanoseconds(ns));
  }
  return 0;
}
