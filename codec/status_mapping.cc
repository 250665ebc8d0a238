// HTTP status and HTTP/2 error code → gRPC status code tables.
#include "codec/status_mapping.h"

#include <array>
#include <cstdio>

namespace h2rpc::codec {

namespace {

/// Names of the HTTP/2 error codes 0x0..0xd, indexed by code (RFC 9113 §7).
constexpr std::array<const char*, 14> kHttp2ErrorNames = {
    "NO_ERROR",
    "PROTOCOL_ERROR",
    "INTERNAL_ERROR",
    "FLOW_CONTROL_ERROR",
    "SETTINGS_TIMEOUT",
    "STREAM_CLOSED",
    "FRAME_SIZE_ERROR",
    "REFUSED_STREAM",
    "CANCEL",
    "COMPRESSION_ERROR",
    "CONNECT_ERROR",
    "ENHANCE_YOUR_CALM",
    "INADEQUATE_SECURITY",
    "HTTP_1_1_REQUIRED",
};

}  // namespace

StatusCode HttpStatusToGrpc(int http_status) {
  switch (http_status) {
    case 400:
      return StatusCode::kInternal;
    case 401:
      return StatusCode::kUnauthenticated;
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kUnimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return StatusCode::kUnavailable;
    default:
      return StatusCode::kUnknown;
  }
}

StatusCode Http2ErrorToGrpc(uint32_t http2_error_code) {
  switch (http2_error_code) {
    case kHttp2RefusedStream:
      return StatusCode::kUnavailable;  // the peer never processed the stream: safe to retry
    case kHttp2Cancel:
      return StatusCode::kCancelled;
    case kHttp2EnhanceYourCalm:
      return StatusCode::kResourceExhausted;
    case kHttp2InadequateSecurity:
      return StatusCode::kPermissionDenied;
    default:
      return StatusCode::kInternal;
  }
}

const char* Http2ErrorName(uint32_t http2_error_code) {
  if (http2_error_code < kHttp2ErrorNames.size()) return kHttp2ErrorNames[http2_error_code];
  return "UNKNOWN_HTTP2_ERROR";
}

std::string Http2ErrorString(uint32_t http2_error_code) {
  if (http2_error_code < kHttp2ErrorNames.size()) return kHttp2ErrorNames[http2_error_code];
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "0x%x", static_cast<unsigned>(http2_error_code));
  return buffer;
}

}  // namespace h2rpc::codec
