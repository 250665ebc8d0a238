// Message compression: identity, gzip, deflate (zlib), with a hard decompressed-size limit.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "codec/status.h"

namespace h2rpc::codec {

enum class Compression { kIdentity, kGzip, kDeflate };

/// "identity", "gzip", "deflate".
std::string_view CompressionName(Compression c);

/// Parses a grpc-encoding value; nullopt for encodings we do not support.
std::optional<Compression> ParseCompression(std::string_view name);

/// What we advertise in grpc-accept-encoding: "identity,deflate,gzip".
std::string_view SupportedEncodingsHeader();

/// True if `accept_encoding` (a comma list, spaces allowed) names `c`.
bool AcceptsEncoding(std::string_view accept_encoding, Compression c);

StatusOr<std::string> Compress(Compression c, std::string_view raw);

/// Inflates at most `max_output` bytes. Output beyond the limit → RESOURCE_EXHAUSTED naming the
/// limit; memory used stays near the limit however large the bomb. Corrupt input → INTERNAL.
StatusOr<std::string> Decompress(Compression c, std::string_view compressed, size_t max_output);

}  // namespace h2rpc::codec
