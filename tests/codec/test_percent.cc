// Tests of codec/percent: grpc-message percent-encoding and the lenient decoder.
#include "codec/percent.h"

#include <doctest/doctest.h>

#include <random>
#include <string>

namespace h2rpc::codec {
namespace {

TEST_CASE("PercentEncode escapes '%' and bytes outside 0x20-0x7E, upper-case hex") {
  struct Case {
    std::string raw;
    std::string want;
  };
  const Case cases[] = {
      {"", ""},
      {"plain text", "plain text"},
      {"%", "%25"},
      {"100%", "100%25"},
      {"a\nb", "a%0Ab"},
      {"\r\n\t", "%0D%0A%09"},
      {std::string("\0", 1), "%00"},
      {"\x7F", "%7F"},
      {"\x1F ~", "%1F ~"},
      {"caf\xC3\xA9", "caf%C3%A9"},   // UTF-8 é
      {"\xE2\x82\xAC", "%E2%82%AC"},  // UTF-8 €
      {"\xFF", "%FF"},
      {"%zz", "%25zz"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.raw);
    CHECK(PercentEncode(c.raw) == c.want);
  }
}

TEST_CASE("PercentDecode decodes valid escapes and keeps malformed ones as they are") {
  struct Case {
    std::string encoded;
    std::string want;
  };
  const Case cases[] = {
      {"", ""},
      {"plain", "plain"},
      {"%25", "%"},
      {"a%0Ab", "a\nb"},
      {"%c3%a9", "\xC3\xA9"},  // lower-case hex is accepted
      {"%C3%A9", "\xC3\xA9"},
      {"%00", std::string("\0", 1)},
      {"%", "%"},
      {"%%", "%%"},
      {"%%25", "%%"},
      {"abc%", "abc%"},
      {"%4", "%4"},
      {"x%4", "x%4"},
      {"%zz", "%zz"},
      {"%z1", "%z1"},
      {"%1z", "%1z"},
      {"%g0%41", "%g0A"},
      {"%%41", "%A"},
      {"100% sure", "100% sure"},
      {"\xC3\xA9", "\xC3\xA9"},  // raw bytes a non-conforming peer sent pass through
  };
  for (const Case& c : cases) {
    CAPTURE(c.encoded);
    CHECK(PercentDecode(c.encoded) == c.want);
  }
}

TEST_CASE("Round trip: PercentDecode(PercentEncode(x)) == x") {
  const std::string fixed[] = {"%",          "\n", "caf\xC3\xA9", "%zz",
                               "trailing %", "%4", "%%41%",       std::string(256, '%')};
  for (const std::string& x : fixed) CHECK(PercentDecode(PercentEncode(x)) == x);
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes += static_cast<char>(b);
  CHECK(PercentDecode(PercentEncode(all_bytes)) == all_bytes);

  std::mt19937 rng(3);
  for (int i = 0; i < 2000; ++i) {
    std::string x(rng() % 64, '\0');
    for (char& c : x) c = static_cast<char>(rng() % 3 == 0 ? '%' : rng());
    const std::string encoded = PercentEncode(x);
    for (const char c : encoded) {
      CHECK(static_cast<unsigned char>(c) >= 0x20);
      CHECK(static_cast<unsigned char>(c) <= 0x7E);
    }
    CHECK(encoded.size() <= 3 * x.size());
    CHECK(PercentDecode(encoded) == x);
    CHECK(PercentDecode(x).size() <= x.size());
  }
}

TEST_CASE("QuoteForMessage escapes and truncates untrusted bytes") {
  CHECK(QuoteForMessage("") == "\"\"");
  CHECK(QuoteForMessage("abc") == "\"abc\"");
  CHECK(QuoteForMessage("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(QuoteForMessage(std::string("\0\n\xFF", 3)) == "\"\\x00\\x0A\\xFF\"");
  const std::string long_value(100, 'x');
  CHECK(QuoteForMessage(long_value) == "\"" + std::string(kMaxQuotedBytes, 'x') + "\"...");
  CHECK(QuoteForMessage(std::string(kMaxQuotedBytes, 'y')) ==
        "\"" + std::string(kMaxQuotedBytes, 'y') + "\"");
}

}  // namespace
}  // namespace h2rpc::codec
