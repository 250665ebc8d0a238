// Tests of codec/timeout: grpc-timeout formatting and the strict parser.
#include "codec/timeout.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

namespace h2rpc::codec {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST_CASE("ParseTimeout accepts digits and a unit") {
  struct Case {
    const char* text;
    nanoseconds want;
  };
  const Case cases[] = {
      {"0n", nanoseconds(0)},
      {"0H", nanoseconds(0)},
      {"1n", nanoseconds(1)},
      {"1u", microseconds(1)},
      {"1m", milliseconds(1)},
      {"1S", seconds(1)},
      {"1M", minutes(1)},
      {"1H", hours(1)},
      {"00000001S", seconds(1)},
      {"99999999n", nanoseconds(99999999)},
      {"99999999u", microseconds(99999999)},
      {"99999999m", milliseconds(99999999)},
      {"99999999S", seconds(99999999)},
      {"250m", milliseconds(250)},
      {"876000H", kMaxTimeout},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    const auto parsed = ParseTimeout(c.text);
    REQUIRE(parsed.ok());
    CHECK(*parsed == c.want);
  }
}

TEST_CASE("ParseTimeout clamps huge values instead of overflowing") {
  // 99999999H is about 3.6e20 ns: more than int64 holds.
  for (const char* text : {"99999999H", "99999999M", "2562048H", "876001H"}) {
    CAPTURE(text);
    const auto parsed = ParseTimeout(text);
    REQUIRE(parsed.ok());
    CHECK(*parsed == kMaxTimeout);
  }
  CHECK(*ParseTimeout("52560000M") == kMaxTimeout);  // exactly 100 years of minutes
  CHECK(*ParseTimeout("52559999M") == minutes(52559999));
  // The ceiling leaves room to add it to any clock reading.
  CHECK(kMaxTimeout.count() < std::numeric_limits<int64_t>::max() / 2);
}

TEST_CASE("ParseTimeout rejects malformed values with INVALID_ARGUMENT naming them") {
  struct Case {
    std::string text;
    const char* why;
  };
  const Case cases[] = {
      {"", "empty value"},
      {"1", "missing unit (H M S m u n)"},
      {"12345678", "missing unit (H M S m u n)"},
      {"S", "no digits before the unit"},
      {"1x", "unknown unit (expected H M S m u n)"},
      {"1s", "unknown unit (expected H M S m u n)"},
      {"1h", "unknown unit (expected H M S m u n)"},
      {"1N", "unknown unit (expected H M S m u n)"},
      {"123456789S", "more than 8 digits"},
      {"000000001S", "more than 8 digits"},
      {"-1u", "expected 1 to 8 digits and a unit (H M S m u n)"},
      {"+1S", "expected 1 to 8 digits and a unit (H M S m u n)"},
      {" 1S", "expected 1 to 8 digits and a unit (H M S m u n)"},
      {"1S ", "unknown unit (expected H M S m u n)"},
      {"1 S", "expected 1 to 8 digits and a unit (H M S m u n)"},
      {"1SS", "expected 1 to 8 digits and a unit (H M S m u n)"},
      {"1.5S", "expected 1 to 8 digits and a unit (H M S m u n)"},
      {"0x1S", "expected 1 to 8 digits and a unit (H M S m u n)"},
      {std::string("1\0S", 3), "expected 1 to 8 digits and a unit (H M S m u n)"},
      {"1\tS", "expected 1 to 8 digits and a unit (H M S m u n)"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    const auto parsed = ParseTimeout(c.text);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().code() == StatusCode::kInvalidArgument);
    CHECK(parsed.status().message().find(c.why) != std::string::npos);
    CHECK(parsed.status().message().rfind("invalid grpc-timeout \"", 0) == 0);
  }
  CHECK(ParseTimeout("1x").status().message() ==
        "invalid grpc-timeout \"1x\": unknown unit (expected H M S m u n)");
  CHECK(ParseTimeout(std::string("1\0S", 3)).status().message().find("\"1\\x00S\"") !=
        std::string::npos);
}

TEST_CASE("FormatTimeout picks the finest exact unit, else the finest that fits rounded up") {
  struct Case {
    nanoseconds in;
    const char* want;
  };
  const Case cases[] = {
      {nanoseconds(-5), "0n"},
      {nanoseconds(0), "0n"},
      {nanoseconds(1), "1n"},
      {nanoseconds(99999999), "99999999n"},
      {nanoseconds(100000000), "100000u"},
      {milliseconds(250), "250000u"},
      {seconds(1), "1000000u"},
      {seconds(100), "100000m"},
      {seconds(99999999), "99999999S"},
      {minutes(99999999), "99999999M"},
      {hours(1000000), "60000000M"},
      {nanoseconds(123456789), "123457u"},    // no exact unit fits: rounded up, never down
      {nanoseconds(99999999001), "100000m"},  // u would need 9 digits
      {nanoseconds(100000000001), "100001m"},
      {nanoseconds::max(), "2562048H"},
      {kMaxTimeout, "52560000M"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.in.count());
    CHECK(FormatTimeout(c.in) == c.want);
  }
}

TEST_CASE("Round trip: ParseTimeout(FormatTimeout(t)) >= t, within the rounding of one unit") {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    // Spread over every magnitude: pick a bit length, then a value of that length.
    const int bits = static_cast<int>(rng() % 63);
    const int64_t ns = static_cast<int64_t>(rng() & (((uint64_t{1} << bits) - 1) | 1));
    const std::string text = FormatTimeout(nanoseconds(ns));
    CAPTURE(ns);
    CAPTURE(text);
    CHECK(text.size() <= 9);
    const auto back = ParseTimeout(text);
    REQUIRE(back.ok());
    const int64_t want = std::min<int64_t>(ns, kMaxTimeout.count());
    CHECK(back->count() >= want);
    // Rounding is within one unit of a value needing more than 8 digits of the finer unit.
    CHECK(back->count() - want <= want / 10000 + 1);
  }
}

TEST_CASE("Round trip: FormatTimeout(ParseTimeout(s)) parses back to the same duration") {
  for (const char* text : {"0n", "7n", "12u", "3m", "45S", "2M", "1H", "99999999M", "99999999H"}) {
    CAPTURE(text);
    const auto first = ParseTimeout(text);
    REQUIRE(first.ok());
    const auto second = ParseTimeout(FormatTimeout(*first));
    REQUIRE(second.ok());
    CHECK(*second == *first);
  }
}

}  // namespace
}  // namespace h2rpc::codec
