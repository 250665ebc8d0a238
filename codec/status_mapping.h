// Mappings from HTTP-level outcomes to gRPC status codes.
#pragma once

#include <cstdint>

#include "codec/status.h"

namespace h2rpc::codec {

/// gRPC's HTTP→gRPC table for responses without grpc-status (doc/http-grpc-status-mapping.md):
/// 400→INTERNAL, 401→UNAUTHENTICATED, 403→PERMISSION_DENIED, 404→UNIMPLEMENTED,
/// 429/502/503/504→UNAVAILABLE, anything else→UNKNOWN.
StatusCode HttpStatusToGrpc(int http_status);

/// RST_STREAM / GOAWAY error code → gRPC code (client side). REFUSED_STREAM→UNAVAILABLE,
/// CANCEL→CANCELLED (the caller turns it into DEADLINE_EXCEEDED if its deadline had passed),
/// ENHANCE_YOUR_CALM→RESOURCE_EXHAUSTED, INADEQUATE_SECURITY→PERMISSION_DENIED, else INTERNAL.
StatusCode Http2ErrorToGrpc(uint32_t http2_error_code);

/// Name of an HTTP/2 error code ("PROTOCOL_ERROR", ...) for messages; "0x.." if unknown.
const char* Http2ErrorName(uint32_t http2_error_code);

}  // namespace h2rpc::codec
