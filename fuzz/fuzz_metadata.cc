// Fuzzes metadata rules. Invariants: key and value validation agree with the documented grammar
// (re-implemented here); base64 round-trips (padded and unpadded); decoding arbitrary input
// either fails with INVALID_ARGUMENT or yields at most 3/4 of its size; -bin values split on
// commas give one element per comma-separated piece, each equal to decoding that piece.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codec/metadata.h"
#include "fuzz_check.h"

namespace {

using h2rpc::StatusCode;
using namespace h2rpc::codec;

bool KeyGrammar(std::string_view key, bool allow_reserved) {
  if (key.empty()) return false;
  for (const char c : key) {
    const bool ok =
        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  if (allow_reserved) return true;
  return key.substr(0, 5) != "grpc-" && !IsReservedHeader(key) && !IsConnectionSpecificHeader(key);
}

bool ValueGrammar(std::string_view key, std::string_view value) {
  if (key.size() >= 4 && key.substr(key.size() - 4) == "-bin") return true;
  for (const char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Input layout (from the front, so seeds stay readable): flags byte (bit 0: allow reserved
  // keys), separator byte for the split round trip, the key up to the first '\n', the value.
  if (size < 2) return 0;
  const bool allow_reserved = (data[0] & 1) != 0;
  const char separator = static_cast<char>(data[1]);
  const std::string_view rest_input(reinterpret_cast<const char*>(data) + 2, size - 2);
  const size_t newline = rest_input.find('\n');
  const std::string key(rest_input.substr(0, newline));
  const std::string value(newline == std::string_view::npos ? std::string_view()
                                                            : rest_input.substr(newline + 1));

  const auto key_status = ValidateMetadataKey(key, allow_reserved);
  FUZZ_CHECK(key_status.ok() == KeyGrammar(key, allow_reserved));
  if (!key_status.ok()) FUZZ_CHECK(key_status.code() == StatusCode::kInternal);
  const auto value_status = ValidateMetadataValue(key, value);
  FUZZ_CHECK(value_status.ok() == ValueGrammar(key, value));
  (void)IsReservedHeader(key);
  (void)IsConnectionSpecificHeader(key);
  FUZZ_CHECK(HeaderFieldSize(key, value) == key.size() + value.size() + 32);

  // Round trip of arbitrary bytes, unpadded and padded.
  const std::string encoded = Base64EncodeUnpadded(value);
  FUZZ_CHECK(encoded.find('=') == std::string::npos);
  const auto back = Base64Decode(encoded);
  FUZZ_CHECK(back.ok() && *back == value);
  std::string padded = encoded;
  while (padded.size() % 4 != 0) padded += '=';
  const auto back_padded = Base64Decode(padded);
  FUZZ_CHECK(back_padded.ok() && *back_padded == value);
  if (IsBinaryKey(key)) FUZZ_CHECK(EncodeMetadataValue(key, value) == encoded);

  // Decoding arbitrary input.
  const auto decoded = Base64Decode(value);
  if (decoded.ok()) {
    FUZZ_CHECK(decoded->size() <= value.size() * 3 / 4);
    FUZZ_CHECK(Base64Decode(Base64EncodeUnpadded(*decoded)).value() == *decoded);
  } else {
    FUZZ_CHECK(decoded.status().code() == StatusCode::kInvalidArgument);
    FUZZ_CHECK(!decoded.status().message().empty());
  }

  // -bin splitting on arbitrary input.
  const auto elements = DecodeBinaryHeader(value);
  if (elements.ok()) {
    std::string_view rest(value);
    size_t i = 0;
    while (true) {
      const size_t comma = rest.find(',');
      FUZZ_CHECK(i < elements->size());
      const auto one = Base64Decode(Trim(rest.substr(0, comma)));
      FUZZ_CHECK(one.ok() && *one == (*elements)[i]);
      ++i;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    FUZZ_CHECK(i == elements->size());
  } else {
    FUZZ_CHECK(elements.status().code() == StatusCode::kInvalidArgument);
  }

  // -bin splitting round trip: pieces of `value` cut at `separator`, encoded, joined by ','.
  std::vector<std::string> pieces;
  std::string joined;
  std::string_view rest(value);
  while (true) {
    const size_t cut = rest.find(separator);
    pieces.emplace_back(rest.substr(0, cut));
    if (pieces.size() > 1) joined += ',';
    joined += Base64EncodeUnpadded(pieces.back());
    if (cut == std::string_view::npos) break;
    rest.remove_prefix(cut + 1);
  }
  const auto split = DecodeBinaryHeader(joined);
  FUZZ_CHECK(split.ok() && *split == pieces);
  return 0;
}
