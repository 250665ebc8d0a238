// Custom metadata rules: key syntax, ASCII values, -bin values in base64, header-list accounting.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "codec/status.h"

namespace h2rpc::codec {

/// Per RFC 7541 §4.1 each header field costs name + value + 32 bytes in
/// SETTINGS_MAX_HEADER_LIST_SIZE.
inline constexpr size_t kHeaderFieldOverhead = 32;
inline size_t HeaderFieldSize(std::string_view name, std::string_view value) {
  return name.size() + value.size() + kHeaderFieldOverhead;
}

/// True for keys ending in "-bin" (binary values, base64 on the wire).
bool IsBinaryKey(std::string_view key);

/// Key must be non-empty, [0-9a-z_.-] only (PROTOCOL-HTTP2.md Header-Name; so never starts with
/// ':' and never upper-case). Unless `allow_reserved`, keys the library or HTTP/2 own are
/// rejected too: the "grpc-" prefix, IsReservedHeader (content-type, te, user-agent, ...) and
/// IsConnectionSpecificHeader names, because sending them as user metadata would duplicate or
/// corrupt protocol headers and make peers reject the request. Received metadata passes
/// `allow_reserved` (peers send grpc-trace-bin and the like). Failure is INTERNAL with a message
/// naming the key.
Status ValidateMetadataKey(std::string_view key, bool allow_reserved = false);

/// Non-binary values: printable ASCII 0x20-0x7E only (may be empty). Binary values: anything
/// (they are encoded). Failure is INTERNAL with a message naming the key.
Status ValidateMetadataValue(std::string_view key, std::string_view value);

/// Standard base64 alphabet, no padding (what gRPC sends).
std::string Base64EncodeUnpadded(std::string_view raw);

/// Accepts padded and unpadded input; rejects bad characters, misplaced padding and impossible
/// lengths (INVALID_ARGUMENT). Non-zero unused bits in the last character are tolerated (as Go
/// and grpc-core do). Output size is bounded by 3/4 of input.
StatusOr<std::string> Base64Decode(std::string_view encoded);

/// Decodes a received -bin header value: comma-separated elements are split first, each decoded,
/// and returned in order (one header line may carry several values). Spaces and tabs around an
/// element are ignored (proxies join repeated fields with ", "); an empty element is an empty
/// value. Bad base64 in any element → INVALID_ARGUMENT.
StatusOr<std::vector<std::string>> DecodeBinaryHeader(std::string_view value);

/// Wire form of one metadata value for sending: base64 for -bin keys, as-is otherwise.
std::string EncodeMetadataValue(std::string_view key, std::string_view value);

/// Headers that belong to HTTP/2 or gRPC itself and never surface as user metadata:
/// pseudo-headers, content-type, te, user-agent, grpc-timeout, grpc-encoding,
/// grpc-accept-encoding, grpc-status, grpc-message, grpc-status-details-bin, grpc-message-type.
/// Other grpc-* keys (grpc-trace-bin, grpc-previous-rpc-attempts, ...) are metadata, as in
/// grpc-go.
bool IsReservedHeader(std::string_view name);

/// HTTP/1 connection-specific headers forbidden in HTTP/2 (RFC 9113 §8.2.2): connection,
/// keep-alive, proxy-connection, transfer-encoding, upgrade. `te` is not listed: "te: trailers"
/// is allowed and gRPC sends it; the request validator applies the te policy.
bool IsConnectionSpecificHeader(std::string_view name);

}  // namespace h2rpc::codec
