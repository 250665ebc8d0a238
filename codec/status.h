// Status: the outcome of every h2rpc operation, carrying one of gRPC's 17 codes.
//
// Used by every layer; the public API returns it instead of throwing.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace h2rpc {

/// The canonical gRPC status codes; the numeric values are the wire values of `grpc-status`.
enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

/// Number of defined codes; values 0..kStatusCodeCount-1 are valid.
inline constexpr int kStatusCodeCount = 17;

/// Canonical upper-case name ("OK", "DEADLINE_EXCEEDED", ...); "UNKNOWN_CODE" if out of range.
std::string_view StatusCodeName(StatusCode code);

/// Maps a wire integer to a code; values outside 0..16 become kUnknown (as gRPC specifies).
StatusCode StatusCodeFromInt(int64_t value);

/// A gRPC status: code, human-readable message, optional opaque details
/// (the serialized google.rpc.Status carried in `grpc-status-details-bin`).
class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message, std::string details = {})
      : code_(code), message_(std::move(message)), details_(std::move(details)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  int error_code() const { return static_cast<int>(code_); }
  const std::string& message() const { return message_; }
  const std::string& error_message() const { return message_; }
  const std::string& details() const { return details_; }
  const std::string& error_details() const { return details_; }

  /// "CODE: message" (or "OK"), for logs and test failure output.
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_ && a.details_ == b.details_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string details_;
};

std::ostream& operator<<(std::ostream& os, const Status& status);
std::ostream& operator<<(std::ostream& os, StatusCode code);

/// A value or the Status explaining why there is none. Small on purpose: no exceptions.
template <typename T>
class StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() { return value_; }
  const T& value() const { return value_; }
  T& operator*() { return value_; }
  const T& operator*() const { return value_; }
  T* operator->() { return &value_; }
  const T* operator->() const { return &value_; }

 private:
  T value_{};
  Status status_;
};

}  // namespace h2rpc
