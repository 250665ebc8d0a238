// grpc-message percent-encoding (PROTOCOL-HTTP2.md: Percent-Encoded → 1*(Percent-Byte-Unencoded /
// Percent-Byte-Encoded); bytes outside 0x20-0x7E and '%' itself are encoded as %XX, upper-case).
#pragma once

#include <string>
#include <string_view>

namespace h2rpc::codec {

std::string PercentEncode(std::string_view raw);

/// Lenient: a malformed escape ("%zz", a trailing "%", "%4") passes through as-is; never fails.
std::string PercentDecode(std::string_view encoded);

}  // namespace h2rpc::codec
