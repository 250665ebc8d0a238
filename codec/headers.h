// Validation of gRPC request and response header blocks (PROTOCOL-HTTP2.md).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "codec/compression.h"
#include "codec/status.h"

namespace h2rpc::codec {

/// A header block as received or to be sent: (name, value) pairs in wire order.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// Size of a header list as SETTINGS_MAX_HEADER_LIST_SIZE counts it (name + value + 32 per
/// field, RFC 9113 §6.5.2); saturates at SIZE_MAX instead of wrapping.
size_t HeaderListSize(const HeaderList& headers);

/// What a server needs from a valid request header block.
struct RequestHead {
  std::string path;                                 // "/pkg.Service/Method"
  std::string service;                              // "pkg.Service"
  std::string method;                               // "Method"
  std::optional<std::chrono::nanoseconds> timeout;  // zero means already expired
  std::optional<Compression> encoding;              // grpc-encoding (nullopt = identity)
  std::string accept_encoding;  // raw grpc-accept-encoding (repeated fields joined by ',')
  std::string authority;
  std::string user_agent;
  HeaderList metadata;  // custom metadata, -bin values still base64 as received (but verified)
};

/// A rejected request: the Status for trailers and, when the request is not gRPC at all,
/// the HTTP status to answer with (415 wrong content-type, 405 wrong method, 400 malformed).
struct RequestError {
  Status status;
  int http_status = 200;  // 200 = answer as a gRPC Trailers-Only response with `status`
};

/// Splits "/pkg.Service/Method"; rejects "", "/", "Svc/M", "//Svc/M", "/Svc/", "/Svc/M/x"
/// with UNIMPLEMENTED naming the path.
StatusOr<std::pair<std::string, std::string>> ParsePath(std::string_view path);

/// True for "application/grpc", "application/grpc+proto", "application/grpc;charset=..." etc.
/// (the media type is compared case-insensitively; "application/grpc-web" is not gRPC).
bool IsGrpcContentType(std::string_view content_type);

/// Validates a request header block (pseudo-headers first, as received). Policy on `te`: a
/// missing or wrong te is accepted (documented; some proxies strip it) — see headers.cc, which
/// also lists every check and the error each one yields.
/// Unsupported grpc-encoding → UNIMPLEMENTED naming the encodings we accept (the response should
/// carry grpc-accept-encoding: SupportedEncodingsHeader()).
std::variant<RequestHead, RequestError> ValidateRequestHeaders(const HeaderList& headers);

/// The same, filling `head` (default-constructed) in place: the server's per-request path,
/// which saves moving a RequestHead of eight strings. On an error `head` is unspecified.
std::optional<RequestError> ValidateRequestHeaders(const HeaderList& headers, RequestHead& head);

/// What a client needs from a response header block or trailers.
struct ResponseHead {
  int http_status = 0;                  // 0 in trailers (they carry no :status)
  std::optional<Compression> encoding;  // grpc-encoding (nullopt = identity or absent)
  std::string accept_encoding;
  /// The call's final status, present if grpc-status was in this block (trailers or
  /// Trailers-Only), and always present when validating trailers (missing or malformed
  /// grpc-status → UNKNOWN). grpc-message is percent-decoded, grpc-status-details-bin decoded.
  std::optional<Status> status;
  HeaderList metadata;  // custom metadata, -bin values still base64 as received (but verified)
};

/// Validates response headers (`is_trailers` false) or trailers (`true`). Non-200 without
/// grpc-status → status from HttpStatusToGrpc; wrong content-type → UNKNOWN; malformed
/// grpc-status → UNKNOWN; grpc-message percent-decoded.
/// An error result means the block ends the call with that status (not gRPC, or malformed:
/// INTERNAL); a grpc-status in the block is reported in `status` instead. 1xx informational
/// blocks are the transport's to skip.
StatusOr<ResponseHead> ValidateResponseHeaders(const HeaderList& headers, bool is_trailers);

}  // namespace h2rpc::codec
