// grpc-timeout: "TimeoutValue TimeoutUnit", at most 8 ASCII digits, unit one of H M S m u n.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "codec/status.h"

namespace h2rpc::codec {

/// Formats a timeout with at most 8 digits, in the finest unit that can carry it exactly or,
/// failing that, the finest unit that fits (rounded up, so a deadline is never shortened).
/// Non-positive durations format as "0n"; durations beyond 99999999H clamp to "99999999H".
std::string FormatTimeout(std::chrono::nanoseconds timeout);

/// Parses a grpc-timeout value. Policy (documented in the header comment of timeout.cc):
/// rejects empty, more than 8 digits, missing or unknown unit, signs, whitespace, anything else;
/// INVALID_ARGUMENT with the offending value. Never overflows: 99999999H fits in nanoseconds.
StatusOr<std::chrono::nanoseconds> ParseTimeout(std::string_view value);

}  // namespace h2rpc::codec
