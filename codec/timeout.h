// grpc-timeout: "TimeoutValue TimeoutUnit", at most 8 ASCII digits, unit one of H M S m u n.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "codec/status.h"

namespace h2rpc::codec {

/// Largest digit string the spec allows in grpc-timeout (PROTOCOL-HTTP2.md: "at most 8 digits").
inline constexpr int64_t kMaxTimeoutValue = 99999999;

/// Ceiling applied by ParseTimeout. 99999999H (about 11,400 years) does not fit in int64
/// nanoseconds (about 292 years), so large values clamp. 100 years is far beyond any real
/// deadline and small enough that `steady_clock::now() + timeout` (or system_clock) cannot
/// overflow, so callers may add the result to a clock reading without a saturating add.
inline constexpr std::chrono::nanoseconds kMaxTimeout = std::chrono::hours(24 * 365 * 100);

/// Formats a timeout with at most 8 digits, in the finest unit that can carry it exactly or,
/// failing that, the finest unit that fits (rounded up, so a deadline is never shortened).
/// Non-positive durations format as "0n"; durations beyond 99999999H clamp to "99999999H"
/// (unreachable with int64 nanoseconds, kept so the function is total).
std::string FormatTimeout(std::chrono::nanoseconds timeout);

/// Parses a grpc-timeout value. Policy (documented in the header comment of timeout.cc):
/// rejects empty, more than 8 digits, missing or unknown unit, signs, whitespace, anything else;
/// INVALID_ARGUMENT with the offending value. Never overflows: values above kMaxTimeout (only
/// possible with the H and M units) clamp to kMaxTimeout. Zero ("0n") parses to zero; the caller
/// treats a zero timeout as already expired (DEADLINE_EXCEEDED).
StatusOr<std::chrono::nanoseconds> ParseTimeout(std::string_view value);

}  // namespace h2rpc::codec
