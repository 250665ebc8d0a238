// grpc-message percent-encoding (PROTOCOL-HTTP2.md: Percent-Encoded → 1*(Percent-Byte-Unencoded /
// Percent-Byte-Encoded); bytes outside 0x20-0x7E and '%' itself are encoded as %XX, upper-case).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace h2rpc::codec {

/// Encodes a status message for grpc-message. Output is printable ASCII only, at most 3x input.
std::string PercentEncode(std::string_view raw);

/// Lenient: a malformed escape ("%zz", a trailing "%", "%4") passes through as-is; never fails.
/// Accepts upper- and lower-case hex digits. Output is never longer than the input.
std::string PercentDecode(std::string_view encoded);

/// Longest excerpt of a peer-supplied value that QuoteForMessage copies into a Status message:
/// enough to recognise the value, small enough that hostile input cannot bloat error messages.
inline constexpr size_t kMaxQuotedBytes = 64;

/// Quotes untrusted bytes for a Status message: `"value"` with printable ASCII kept, '"' and
/// '\\' backslash-escaped, other bytes as \xNN; input beyond kMaxQuotedBytes is cut and marked
/// with "..." after the closing quote.
std::string QuoteForMessage(std::string_view bytes);

}  // namespace h2rpc::codec
