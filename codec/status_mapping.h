// Mappings from HTTP-level outcomes to gRPC status codes.
#pragma once

#include <cstdint>
#include <string>

#include "codec/status.h"

namespace h2rpc::codec {

/// HTTP/2 error codes (RFC 9113 §7), named here so code above the transport need not include
/// nghttp2.h. Unscoped on purpose: the values are passed around as the wire's uint32_t.
enum Http2ErrorCode : uint32_t {
  kHttp2NoError = 0x0,
  kHttp2ProtocolError = 0x1,
  kHttp2InternalError = 0x2,
  kHttp2FlowControlError = 0x3,
  kHttp2SettingsTimeout = 0x4,
  kHttp2StreamClosed = 0x5,
  kHttp2FrameSizeError = 0x6,
  kHttp2RefusedStream = 0x7,
  kHttp2Cancel = 0x8,
  kHttp2CompressionError = 0x9,
  kHttp2ConnectError = 0xa,
  kHttp2EnhanceYourCalm = 0xb,
  kHttp2InadequateSecurity = 0xc,
  kHttp2Http11Required = 0xd,
};

/// gRPC's HTTP→gRPC table for responses without grpc-status (doc/http-grpc-status-mapping.md):
/// 400→INTERNAL, 401→UNAUTHENTICATED, 403→PERMISSION_DENIED, 404→UNIMPLEMENTED,
/// 429/502/503/504→UNAVAILABLE, anything else→UNKNOWN.
StatusCode HttpStatusToGrpc(int http_status);

/// RST_STREAM / GOAWAY error code → gRPC code (client side). REFUSED_STREAM→UNAVAILABLE,
/// CANCEL→CANCELLED (the caller turns it into DEADLINE_EXCEEDED if its deadline had passed),
/// ENHANCE_YOUR_CALM→RESOURCE_EXHAUSTED, INADEQUATE_SECURITY→PERMISSION_DENIED, else INTERNAL.
StatusCode Http2ErrorToGrpc(uint32_t http2_error_code);

/// Name of an HTTP/2 error code ("PROTOCOL_ERROR", ...) for messages. Returns static storage,
/// so an unknown code yields "UNKNOWN_HTTP2_ERROR"; use Http2ErrorString to see its value.
const char* Http2ErrorName(uint32_t http2_error_code);

/// Like Http2ErrorName, but an unknown code is rendered as its value ("0x1f").
std::string Http2ErrorString(uint32_t http2_error_code);

}  // namespace h2rpc::codec
