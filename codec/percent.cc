// grpc-message percent-encoding. The decoder is lenient by design (PROTOCOL-HTTP2.md: "When
// decoding invalid values, implementations MUST NOT error or throw away the message"): any '%'
// not followed by two hex digits is kept literally.
#include "codec/percent.h"

namespace h2rpc::codec {

namespace {

constexpr char kHexUpper[] = "0123456789ABCDEF";

/// True for bytes grpc-message may carry unescaped: printable ASCII except '%'.
bool IsUnreserved(unsigned char c) { return c >= 0x20 && c <= 0x7E && c != '%'; }

/// Value of a hex digit, or -1.
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string PercentEncode(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (const char ch : raw) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c)) {
      out += ch;
    } else {
      out += '%';
      out += kHexUpper[c >> 4];
      out += kHexUpper[c & 0xF];
    }
  }
  return out;
}

std::string PercentDecode(std::string_view encoded) {
  std::string out;
  out.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '%' && encoded.size() - i >= 3) {
      const int hi = HexValue(encoded[i + 1]);
      const int lo = HexValue(encoded[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += encoded[i];  // ordinary byte, or a malformed escape kept as-is
  }
  return out;
}

std::string QuoteForMessage(std::string_view bytes) {
  const bool truncated = bytes.size() > kMaxQuotedBytes;
  if (truncated) bytes = bytes.substr(0, kMaxQuotedBytes);
  std::string out = "\"";
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c >= 0x20 && c <= 0x7E) {
      out += ch;
    } else {
      out += "\\x";
      out += kHexUpper[c >> 4];
      out += kHexUpper[c & 0xF];
    }
  }
  out += '"';
  if (truncated) out += "...";
  return out;
}

}  // namespace h2rpc::codec
