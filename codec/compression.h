// Message compression: identity, gzip, deflate (zlib), with a hard decompressed-size limit.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "codec/status.h"

namespace h2rpc::codec {

/// The grpc-encoding values we implement. "deflate" is the zlib format (RFC 1950), as gRPC
/// implementations send it; "gzip" is RFC 1952.
enum class Compression { kIdentity, kGzip, kDeflate };

/// "identity", "gzip", "deflate".
std::string_view CompressionName(Compression c);

/// Parses a grpc-encoding value (exact, lower-case token); nullopt for encodings we do not
/// support.
std::optional<Compression> ParseCompression(std::string_view name);

/// What we advertise in grpc-accept-encoding: "identity,deflate,gzip".
std::string_view SupportedEncodingsHeader();

/// True if `accept_encoding` (a comma list, spaces allowed) names `c`. Identity is always
/// acceptable (every gRPC peer must read uncompressed messages), even if not listed.
bool AcceptsEncoding(std::string_view accept_encoding, Compression c);

/// Compresses one message. Only zlib failures (out of memory) produce an error (INTERNAL).
StatusOr<std::string> Compress(Compression c, std::string_view raw);

/// Inflates at most `max_output` bytes. Output beyond the limit → RESOURCE_EXHAUSTED naming the
/// limit; memory used stays near the limit however large the bomb (output grows in chunks and
/// inflation stops at limit + 1 byte). Corrupt, truncated, or trailing-garbage input → INTERNAL.
/// Concatenated gzip members are accepted (RFC 1952 §2.2). An empty payload decodes to an empty
/// message in every encoding (tolerates senders that flag an empty message as compressed).
StatusOr<std::string> Decompress(Compression c, std::string_view compressed, size_t max_output);

}  // namespace h2rpc::codec
