// Validation of gRPC request and response header blocks (PROTOCOL-HTTP2.md).
//
// Request checks, in the order that decides which error wins:
//   1. HTTP/2 structure → http 400, INTERNAL: a pseudo-header after a regular header, a
//      duplicate or unknown pseudo-header, :method, :scheme or :path missing, :scheme other
//      than http/https, a connection-specific header (RFC 9113 §8.2.2), content-type,
//      grpc-timeout or grpc-encoding repeated.
//   2. :method other than POST → http 405, INTERNAL.
//   3. content-type missing or not application/grpc (optionally +subtype or ;params) → http 415,
//      INTERNAL: the peer is not speaking gRPC, so the HTTP status is what it will understand.
//   From here on the peer speaks gRPC, so errors are answered Trailers-Only (http 200):
//   4. a content-subtype other than proto ("application/grpc+json") → INTERNAL: we only have a
//      protobuf codec, and saying so beats a confusing parse failure later.
//   5. :path not "/Service/Method" → UNIMPLEMENTED naming the path (no handler can match).
//   6. grpc-encoding we do not implement → UNIMPLEMENTED listing what we accept (the response
//      should carry grpc-accept-encoding).
//   7. malformed grpc-timeout → INTERNAL, as grpc-go does. Not INVALID_ARGUMENT: that code
//      belongs to applications, and a bad timeout is a fault of the peer's gRPC library.
//   8. custom metadata with a bad key, a non-ASCII value, or bad base64 in a -bin value →
//      INTERNAL naming the key (only this stream fails).
//
// te policy: accepted when missing and whatever its value. gRPC clients send "te: trailers"
// to detect proxies that drop trailers, but grpc-go servers do not require it and some proxies
// strip it; and for a value other than "trailers", RFC 9113 §8.2.2 makes nghttp2 reset the
// stream before the block ever reaches this code. Rejecting here would only break calls that
// otherwise work.
//
// Response checks (ValidateResponseHeaders):
//   * pseudo-headers: :status required in headers (exactly 3 digits), forbidden in trailers;
//     any other pseudo-header, a repeated one, one after a regular header, or a
//     connection-specific header → INTERNAL error (the block is malformed).
//   * grpc-status present: its code (digits only; other values → UNKNOWN; out-of-range numbers
//     → UNKNOWN as the spec says) with grpc-message percent-decoded and
//     grpc-status-details-bin base64-decoded (bad base64 → INTERNAL error). This holds even with
//     a non-200 :status: the server said what happened.
//   * headers without grpc-status: non-200 → error with HttpStatusToGrpc's code; content-type
//     missing or not gRPC → UNKNOWN error.
//   * trailers without grpc-status → status UNKNOWN (the call has ended, it cannot be OK).
//   * grpc-encoding we do not implement → INTERNAL error (we could not read its messages).
//   * custom metadata validated as for requests → INTERNAL error.
#include "codec/headers.h"

#include <limits>

#include "codec/metadata.h"
#include "codec/percent.h"
#include "codec/status_mapping.h"
#include "codec/timeout.h"

namespace h2rpc::codec {

namespace {

constexpr std::string_view kGrpcContentType = "application/grpc";

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// The content-subtype of a gRPC content-type ("proto" in "application/grpc+proto; x=y"),
/// empty if there is none. Only meaningful when IsGrpcContentType is true.
std::string_view ContentSubtype(std::string_view content_type) {
  std::string_view rest = content_type.substr(kGrpcContentType.size());
  if (rest.empty() || rest.front() != '+') return {};
  rest.remove_prefix(1);
  return Trim(rest.substr(0, rest.find(';')));
}

/// Appends a repeated header's value the way HTTP combines fields.
void Join(std::string& into, std::string_view value, std::string_view separator) {
  if (!into.empty()) into += separator;
  into += value;
}

/// Checks one custom metadata field as received: key syntax (grpc-* allowed, peers send
/// grpc-trace-bin and friends), ASCII value, or valid base64 for -bin keys.
Status ValidateReceivedMetadata(std::string_view key, std::string_view value) {
  Status status = ValidateMetadataKey(key, /*allow_reserved=*/true);
  if (!status.ok()) return status;
  status = ValidateMetadataValue(key, value);
  if (!status.ok()) return status;
  if (IsBinaryKey(key)) {
    StatusOr<std::vector<std::string>> decoded = DecodeBinaryHeader(value);
    if (!decoded.ok()) {
      return Status(StatusCode::kInternal, "metadata value of " + QuoteForMessage(key) + ": " +
                                               decoded.status().message());
    }
  }
  return Status::Ok();
}

RequestError HttpError(int http_status, std::string message) {
  return RequestError{Status(StatusCode::kInternal, std::move(message)), http_status};
}

RequestError GrpcError(StatusCode code, std::string message) {
  return RequestError{Status(code, std::move(message)), 200};
}

Status Malformed(std::string message) {
  return Status(StatusCode::kInternal, "malformed response headers: " + std::move(message));
}

/// Parses a grpc-status value: digits only. Values beyond the defined codes map to UNKNOWN
/// (StatusCodeFromInt); anything that is not a number is reported as nullopt.
std::optional<StatusCode> ParseGrpcStatus(std::string_view value) {
  if (value.empty()) return std::nullopt;
  int64_t number = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    // Saturate: any number this large is out of range anyway.
    if (number < std::numeric_limits<int32_t>::max()) number = number * 10 + (c - '0');
  }
  return StatusCodeFromInt(number);
}

/// Parses :status: exactly three digits (RFC 9110 §15).
std::optional<int> ParseHttpStatus(std::string_view value) {
  if (value.size() != 3) return std::nullopt;
  int number = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    number = number * 10 + (c - '0');
  }
  return number;
}

}  // namespace

size_t HeaderListSize(const HeaderList& headers) {
  size_t total = 0;
  for (const auto& [name, value] : headers) {
    const size_t field = HeaderFieldSize(name, value);
    if (field > std::numeric_limits<size_t>::max() - total) {
      return std::numeric_limits<size_t>::max();
    }
    total += field;
  }
  return total;
}

namespace {

/// "/" Service-Name "/" Method-Name, both non-empty and free of further slashes: the two names
/// as views into `path`, or false.
bool SplitPath(std::string_view path, std::string_view& service, std::string_view& method) {
  if (path.size() < 4 || path.front() != '/') return false;
  const std::string_view rest = path.substr(1);
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == rest.size()) return false;
  service = rest.substr(0, slash);
  method = rest.substr(slash + 1);
  return method.find('/') == std::string_view::npos;
}

Status MalformedPath(std::string_view path) {
  return Status(StatusCode::kUnimplemented, "malformed method name: " + QuoteForMessage(path) +
                                                " (expected \"/package.Service/Method\")");
}

}  // namespace

StatusOr<std::pair<std::string, std::string>> ParsePath(std::string_view path) {
  std::string_view service, method;
  if (!SplitPath(path, service, method)) return MalformedPath(path);
  return std::make_pair(std::string(service), std::string(method));
}

bool IsGrpcContentType(std::string_view content_type) {
  if (content_type.size() < kGrpcContentType.size()) return false;
  // Every peer we know sends it in lower case: one memcmp, before the case-blind loop.
  const std::string_view prefix = content_type.substr(0, kGrpcContentType.size());
  if (prefix != kGrpcContentType && !EqualsIgnoreCase(prefix, kGrpcContentType)) return false;
  if (content_type.size() == kGrpcContentType.size()) return true;
  const char next = content_type[kGrpcContentType.size()];
  return next == '+' || next == ';';
}

std::variant<RequestHead, RequestError> ValidateRequestHeaders(const HeaderList& headers) {
  RequestHead head;
  if (std::optional<RequestError> error = ValidateRequestHeaders(headers, head)) {
    return *std::move(error);
  }
  return head;
}

std::optional<RequestError> ValidateRequestHeaders(const HeaderList& headers, RequestHead& head) {
  const std::string* method = nullptr;
  const std::string* scheme = nullptr;
  const std::string* path = nullptr;
  const std::string* authority = nullptr;
  const std::string* content_type = nullptr;
  const std::string* timeout = nullptr;
  const std::string* encoding = nullptr;
  Status metadata_error;  // the first one; reported after the HTTP-level checks
  bool seen_regular = false;

  for (const auto& [name_string, value] : headers) {
    // Compared as a string_view: sizes first, so most mismatches cost no memcmp call.
    const std::string_view name = name_string;
    if (!name.empty() && name.front() == ':') {
      if (seen_regular) {
        return HttpError(400, "pseudo-header " + QuoteForMessage(name) + " after a regular header");
      }
      const std::string** slot = name == ":method"      ? &method
                                 : name == ":scheme"    ? &scheme
                                 : name == ":path"      ? &path
                                 : name == ":authority" ? &authority
                                                        : nullptr;
      if (slot == nullptr) {
        return HttpError(400,
                         "unexpected pseudo-header " + QuoteForMessage(name) + " in a request");
      }
      if (*slot != nullptr) return HttpError(400, "repeated pseudo-header " + name_string);
      *slot = &value;
      continue;
    }
    seen_regular = true;
    if (IsConnectionSpecificHeader(name)) {
      return HttpError(
          400, "connection-specific header " + QuoteForMessage(name) + " is not allowed in HTTP/2");
    }
    const std::string** singleton = name == "content-type"    ? &content_type
                                    : name == "grpc-timeout"  ? &timeout
                                    : name == "grpc-encoding" ? &encoding
                                                              : nullptr;
    if (singleton != nullptr) {
      if (*singleton != nullptr) return HttpError(400, "repeated header " + name_string);
      *singleton = &value;
    } else if (name == "grpc-accept-encoding") {
      Join(head.accept_encoding, value, ",");
    } else if (name == "user-agent") {
      Join(head.user_agent, value, ", ");
    } else if (IsReservedHeader(name)) {
      // te (see the policy above), and grpc-status & co, which mean nothing in a request.
    } else if (metadata_error.ok()) {
      metadata_error = ValidateReceivedMetadata(name, value);
      if (metadata_error.ok()) head.metadata.emplace_back(name_string, value);
    }
  }

  if (method == nullptr) return HttpError(400, "missing :method");
  if (scheme == nullptr) return HttpError(400, "missing :scheme");
  if (path == nullptr) return HttpError(400, "missing :path");
  if (std::string_view(*scheme) != "http" && std::string_view(*scheme) != "https") {
    return HttpError(400, "unsupported :scheme " + QuoteForMessage(*scheme));
  }
  if (std::string_view(*method) != "POST") {
    return HttpError(405, "method " + QuoteForMessage(*method) + " not allowed: gRPC uses POST");
  }
  if (content_type == nullptr) return HttpError(415, "missing content-type");
  if (!IsGrpcContentType(*content_type)) {
    return HttpError(415, "invalid gRPC request content-type " + QuoteForMessage(*content_type));
  }
  const std::string_view subtype = ContentSubtype(*content_type);
  if (!subtype.empty() && !EqualsIgnoreCase(subtype, "proto")) {
    return GrpcError(StatusCode::kInternal,
                     "unsupported content-subtype " + QuoteForMessage(subtype) + " (only proto)");
  }

  std::string_view service, method_name;
  if (!SplitPath(*path, service, method_name)) return RequestError{MalformedPath(*path), 200};
  head.path = *path;
  head.service.assign(service);
  head.method.assign(method_name);

  if (encoding != nullptr) {
    const std::optional<Compression> c = ParseCompression(*encoding);
    if (!c) {
      return GrpcError(StatusCode::kUnimplemented, "grpc-encoding " + QuoteForMessage(*encoding) +
                                                       " is not supported; supported: " +
                                                       std::string(SupportedEncodingsHeader()));
    }
    if (*c != Compression::kIdentity) head.encoding = c;
  }
  if (timeout != nullptr) {
    StatusOr<std::chrono::nanoseconds> parsed = ParseTimeout(*timeout);
    if (!parsed.ok()) {
      return GrpcError(StatusCode::kInternal, parsed.status().message());
    }
    head.timeout = *parsed;
  }
  if (!metadata_error.ok()) return RequestError{metadata_error, 200};
  if (authority != nullptr) head.authority = *authority;
  return std::nullopt;
}

StatusOr<ResponseHead> ValidateResponseHeaders(const HeaderList& headers, bool is_trailers) {
  const std::string* status_header = nullptr;
  const std::string* content_type = nullptr;
  const std::string* grpc_status = nullptr;
  const std::string* grpc_message = nullptr;
  const std::string* details = nullptr;
  ResponseHead head;
  bool seen_regular = false;

  for (const auto& [name_string, value] : headers) {
    const std::string_view name = name_string;  // see ValidateRequestHeaders
    if (!name.empty() && name.front() == ':') {
      if (is_trailers) return Malformed("pseudo-header " + QuoteForMessage(name) + " in trailers");
      if (seen_regular) {
        return Malformed("pseudo-header " + QuoteForMessage(name) + " after a regular header");
      }
      if (name != ":status") {
        return Malformed("unexpected pseudo-header " + QuoteForMessage(name) + " in a response");
      }
      if (status_header != nullptr) return Malformed("repeated :status");
      status_header = &value;
      continue;
    }
    seen_regular = true;
    if (IsConnectionSpecificHeader(name)) {
      return Malformed("connection-specific header " + QuoteForMessage(name));
    }
    const std::string** singleton = name == "content-type"              ? &content_type
                                    : name == "grpc-status"             ? &grpc_status
                                    : name == "grpc-message"            ? &grpc_message
                                    : name == "grpc-status-details-bin" ? &details
                                                                        : nullptr;
    if (singleton != nullptr) {
      if (*singleton != nullptr) return Malformed("repeated " + name_string);
      *singleton = &value;
    } else if (name == "grpc-encoding") {
      const std::optional<Compression> c = ParseCompression(value);
      if (!c) {
        return Status(StatusCode::kInternal, "response grpc-encoding " + QuoteForMessage(value) +
                                                 " is not supported; supported: " +
                                                 std::string(SupportedEncodingsHeader()));
      }
      head.encoding = *c == Compression::kIdentity ? std::nullopt : c;
    } else if (name == "grpc-accept-encoding") {
      Join(head.accept_encoding, value, ",");
    } else if (!IsReservedHeader(name)) {
      Status status = ValidateReceivedMetadata(name, value);
      if (!status.ok()) return status;
      head.metadata.emplace_back(name_string, value);
    }
  }

  if (!is_trailers) {
    if (status_header == nullptr) return Malformed("missing :status");
    const std::optional<int> http_status = ParseHttpStatus(*status_header);
    if (!http_status) return Malformed(":status " + QuoteForMessage(*status_header));
    head.http_status = *http_status;
  }

  if (grpc_status != nullptr) {
    const std::string message = grpc_message ? PercentDecode(*grpc_message) : std::string();
    std::string decoded_details;
    if (details != nullptr) {
      StatusOr<std::string> decoded = Base64Decode(*details);
      if (!decoded.ok()) {
        return Status(StatusCode::kInternal,
                      "malformed grpc-status-details-bin: " + decoded.status().message());
      }
      decoded_details = std::move(*decoded);
    }
    const std::optional<StatusCode> code = ParseGrpcStatus(*grpc_status);
    if (code) {
      head.status = Status(*code, message, std::move(decoded_details));
    } else {
      std::string why = "malformed grpc-status " + QuoteForMessage(*grpc_status);
      if (!message.empty()) why += ": " + message;
      head.status = Status(StatusCode::kUnknown, std::move(why), std::move(decoded_details));
    }
    return head;
  }

  if (is_trailers) {
    head.status = Status(StatusCode::kUnknown, "trailers without grpc-status");
    return head;
  }
  if (head.http_status != 200) {
    return Status(
        HttpStatusToGrpc(head.http_status),
        "unexpected HTTP status code received from server: " + std::to_string(head.http_status));
  }
  if (content_type == nullptr) return Status(StatusCode::kUnknown, "response has no content-type");
  if (!IsGrpcContentType(*content_type)) {
    return Status(StatusCode::kUnknown,
                  "unexpected response content-type " + QuoteForMessage(*content_type));
  }
  return head;
}

}  // namespace h2rpc::codec
