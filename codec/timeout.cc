// grpc-timeout codec (PROTOCOL-HTTP2.md: Timeout → "grpc-timeout" TimeoutValue TimeoutUnit;
// TimeoutValue → {positive integer as ASCII string of at most 8 digits}).
//
// Parse policy — strict, because a timeout we misread is a deadline we silently change:
//   * accepted: 1 to 8 ASCII digits immediately followed by exactly one unit letter:
//     H (hours), M (minutes), S (seconds), m (milliseconds), u (microseconds), n (nanoseconds).
//     Leading zeros are allowed and count towards the 8 digits ("00000001S" is fine).
//   * rejected with INVALID_ARGUMENT naming the value: the empty string, digits without a unit
//     ("1"), a unit without digits ("S"), more than 8 digits ("123456789S"), an unknown unit
//     ("1x", and units are case-sensitive: "1s" and "1h" are rejected), any sign ("+1S", "-1u"),
//     whitespace anywhere (" 1S", "1S ", "1 S"), a second unit, or any other byte.
//   * zero is accepted ("0n" → 0 ns) although the spec says "positive": peers do send it for
//     expired deadlines, and the caller treats zero as already expired (DEADLINE_EXCEEDED).
//   * no overflow: 99999999H is about 3.6e20 ns, beyond int64. Values above kMaxTimeout
//     (100 years) clamp to it; the multiplication is only done when it cannot overflow.
//
// Format policy: at most 8 digits; the finest unit that carries the value exactly, else the
// finest unit that fits with the value rounded up (never shortening the caller's deadline).
#include "codec/timeout.h"

#include <array>
#include <cstdint>

#include "codec/percent.h"

namespace h2rpc::codec {

namespace {

/// One grpc-timeout unit: its letter and its length in nanoseconds.
struct TimeoutUnit {
  char letter;
  int64_t nanos;
};

/// Finest first: FormatTimeout takes the first unit that works.
constexpr std::array<TimeoutUnit, 6> kUnits = {{
    {'n', 1},
    {'u', 1'000},
    {'m', 1'000'000},
    {'S', 1'000'000'000},
    {'M', 60 * int64_t{1'000'000'000}},
    {'H', 3600 * int64_t{1'000'000'000}},
}};

/// Most digits in a grpc-timeout value.
constexpr size_t kMaxTimeoutDigits = 8;

std::string Format(int64_t value, char unit) {
  std::string out = std::to_string(value);
  out += unit;
  return out;
}

Status Invalid(std::string_view value, std::string_view why) {
  std::string message = "invalid grpc-timeout ";
  message += QuoteForMessage(value);
  message += ": ";
  message += why;
  return Status(StatusCode::kInvalidArgument, std::move(message));
}

}  // namespace

std::string FormatTimeout(std::chrono::nanoseconds timeout) {
  const int64_t ns = timeout.count();
  if (ns <= 0) return "0n";
  for (const TimeoutUnit& unit : kUnits) {
    if (ns % unit.nanos == 0 && ns / unit.nanos <= kMaxTimeoutValue) {
      return Format(ns / unit.nanos, unit.letter);
    }
  }
  for (const TimeoutUnit& unit : kUnits) {
    const int64_t rounded_up = ns / unit.nanos + (ns % unit.nanos != 0 ? 1 : 0);
    if (rounded_up <= kMaxTimeoutValue) return Format(rounded_up, unit.letter);
  }
  return Format(kMaxTimeoutValue, 'H');  // unreachable: int64 ns is at most ~2562048H
}

StatusOr<std::chrono::nanoseconds> ParseTimeout(std::string_view value) {
  if (value.empty()) return Invalid(value, "empty value");
  const char letter = value.back();
  const std::string_view digits = value.substr(0, value.size() - 1);
  const TimeoutUnit* unit = nullptr;
  for (const TimeoutUnit& candidate : kUnits) {
    if (candidate.letter == letter) unit = &candidate;
  }
  if (unit == nullptr) {
    if (letter >= '0' && letter <= '9') return Invalid(value, "missing unit (H M S m u n)");
    return Invalid(value, "unknown unit (expected H M S m u n)");
  }
  if (digits.empty()) return Invalid(value, "no digits before the unit");
  if (digits.size() > kMaxTimeoutDigits) return Invalid(value, "more than 8 digits");
  int64_t amount = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9')
      return Invalid(value, "expected 1 to 8 digits and a unit (H M S m u n)");
    amount = amount * 10 + (c - '0');  // at most 99999999: no overflow
  }
  // amount * unit may exceed int64 (99999999H); compare by division first.
  if (amount > kMaxTimeout.count() / unit->nanos) return kMaxTimeout;
  return std::chrono::nanoseconds(amount * unit->nanos);
}

}  // namespace h2rpc::codec
