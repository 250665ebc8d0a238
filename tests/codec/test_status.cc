// Tests of codec/status: codes, names and the Status / StatusOr value types.
#include "codec/status.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <sstream>
#include <string>

namespace h2rpc {
namespace {

TEST_CASE("StatusCodeName covers every code and out-of-range values") {
  CHECK(StatusCodeName(StatusCode::kOk) == "OK");
  CHECK(StatusCodeName(StatusCode::kDeadlineExceeded) == "DEADLINE_EXCEEDED");
  CHECK(StatusCodeName(StatusCode::kUnauthenticated) == "UNAUTHENTICATED");
  CHECK(StatusCodeName(static_cast<StatusCode>(17)) == "UNKNOWN_CODE");
  CHECK(StatusCodeName(static_cast<StatusCode>(-1)) == "UNKNOWN_CODE");
  for (int i = 0; i < kStatusCodeCount; ++i) {
    CHECK(StatusCodeName(static_cast<StatusCode>(i)) != "UNKNOWN_CODE");
  }
}

TEST_CASE("StatusCodeFromInt maps values outside 0..16 to UNKNOWN") {
  for (int64_t i = 0; i < kStatusCodeCount; ++i) {
    CHECK(static_cast<int64_t>(StatusCodeFromInt(i)) == i);
  }
  for (const int64_t v : {int64_t{-1}, int64_t{17}, int64_t{1} << 40, INT64_MIN, INT64_MAX}) {
    CHECK(StatusCodeFromInt(v) == StatusCode::kUnknown);
  }
}

TEST_CASE("Status accessors, equality and printing") {
  const Status ok;
  CHECK(ok.ok());
  CHECK(ok == Status::Ok());
  CHECK(ok.ToString() == "OK");
  const Status s(StatusCode::kNotFound, "no such thing", "details");
  CHECK_FALSE(s.ok());
  CHECK(s.code() == StatusCode::kNotFound);
  CHECK(s.error_code() == 5);
  CHECK(s.message() == "no such thing");
  CHECK(s.error_message() == "no such thing");
  CHECK(s.details() == "details");
  CHECK(s.error_details() == "details");
  CHECK(s.ToString() == "NOT_FOUND: no such thing");
  CHECK(Status(StatusCode::kInternal, "").ToString() == "INTERNAL");
  CHECK_FALSE(s == Status(StatusCode::kNotFound, "no such thing"));
  std::ostringstream os;
  os << s << " " << StatusCode::kAborted;
  CHECK(os.str() == "NOT_FOUND: no such thing ABORTED");
}

TEST_CASE("StatusOr holds a value or a status") {
  StatusOr<std::string> value(std::string("v"));
  CHECK(value.ok());
  CHECK(*value == "v");
  CHECK(value->size() == 1);
  value.value() += "w";
  CHECK(value.value() == "vw");
  const StatusOr<std::string>& cref = value;
  CHECK(*cref == "vw");
  CHECK(cref->size() == 2);
  CHECK(cref.value() == "vw");
  const StatusOr<std::string> error(Status(StatusCode::kAborted, "x"));
  CHECK_FALSE(error.ok());
  CHECK(error.status().code() == StatusCode::kAborted);
}

}  // namespace
}  // namespace h2rpc
