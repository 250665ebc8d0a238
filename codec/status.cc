#include "codec/status.h"

#include <array>

namespace h2rpc {

namespace {
constexpr std::array<std::string_view, kStatusCodeCount> kNames = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};
}  // namespace

std::string_view StatusCodeName(StatusCode code) {
  const int value = static_cast<int>(code);
  if (value < 0 || value >= kStatusCodeCount) return "UNKNOWN_CODE";
  return kNames[static_cast<size_t>(value)];
}

StatusCode StatusCodeFromInt(int64_t value) {
  if (value < 0 || value >= kStatusCodeCount) return StatusCode::kUnknown;
  return static_cast<StatusCode>(value);
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

std::ostream& operator<<(std::ostream& os, const Status& status) { return os << status.ToString(); }

std::ostream& operator<<(std::ostream& os, StatusCode code) { return os << StatusCodeName(code); }

}  // namespace h2rpc
