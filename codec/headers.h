// Validation of gRPC request and response header blocks (PROTOCOL-HTTP2.md).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "codec/compression.h"
#include "codec/status.h"

namespace h2rpc::codec {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// What a server needs from a valid request header block.
struct RequestHead {
  std::string path;     // "/pkg.Service/Method"
  std::string service;  // "pkg.Service"
  std::string method;   // "Method"
  std::optional<std::chrono::nanoseconds> timeout;
  std::optional<Compression> encoding;  // grpc-encoding (nullopt = identity)
  std::string accept_encoding;          // raw grpc-accept-encoding
  std::string authority;
  std::string user_agent;
  HeaderList metadata;  // custom metadata, -bin values still base64 as received
};

/// A rejected request: the Status for trailers and, when the request is not gRPC at all,
/// the HTTP status to answer with (415 wrong content-type, 405 wrong method, 400 malformed).
struct RequestError {
  Status status;
  int http_status = 200;  // 200 = answer as a gRPC Trailers-Only response with `status`
};

/// Splits "/pkg.Service/Method"; rejects "", "/", "Svc/M", "//Svc/M", "/Svc/", "/Svc/M/x".
StatusOr<std::pair<std::string, std::string>> ParsePath(std::string_view path);

/// True for "application/grpc", "application/grpc+proto", "application/grpc;charset=..." etc.
bool IsGrpcContentType(std::string_view content_type);

/// Validates a request header block (pseudo-headers first, as received). Policy on `te`: a
/// missing or wrong te is accepted (documented; some proxies strip it) — see headers.cc.
/// Unsupported grpc-encoding → UNIMPLEMENTED naming the encodings we accept.
std::variant<RequestHead, RequestError> ValidateRequestHeaders(const HeaderList& headers);

/// What a client needs from a response header block or trailers.
struct ResponseHead {
  int http_status = 0;
  std::optional<Compression> encoding;
  std::string accept_encoding;
  std::optional<Status> status;  // present if grpc-status was in this block (trailers / T-O)
  HeaderList metadata;
};

/// Validates response headers (`is_trailers` false) or trailers (`true`). Non-200 without
/// grpc-status → status from HttpStatusToGrpc; wrong content-type → UNKNOWN; malformed
/// grpc-status → UNKNOWN; grpc-message percent-decoded.
StatusOr<ResponseHead> ValidateResponseHeaders(const HeaderList& headers, bool is_trailers);

}  // namespace h2rpc::codec
