// Custom metadata rules (PROTOCOL-HTTP2.md "Custom-Metadata"): key syntax, ASCII values, base64
// for -bin values, and the lists of headers that are not metadata at all.
#include "codec/metadata.h"

#include <array>
#include <cstdint>

#include "codec/percent.h"

namespace h2rpc::codec {

namespace {

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Reverse of kBase64Alphabet: 0..63, or -1 for bytes outside it (including '=').
constexpr std::array<int8_t, 256> MakeBase64Table() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(kBase64Alphabet[i])] = int8_t(i);
  return table;
}
constexpr std::array<int8_t, 256> kBase64Values = MakeBase64Table();

/// Header-Name characters (PROTOCOL-HTTP2.md): 0-9 a-z _ - .
bool IsKeyChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '_' || c == '-' || c == '.';
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Status InvalidBase64(std::string why) {
  return Status(StatusCode::kInvalidArgument, "invalid base64: " + std::move(why));
}

/// Reserved names, sorted for a reader; the list is short enough for a linear scan.
constexpr std::array<std::string_view, 10> kReservedHeaders = {
    "content-type", "grpc-accept-encoding",    "grpc-encoding", "grpc-message", "grpc-message-type",
    "grpc-status",  "grpc-status-details-bin", "grpc-timeout",  "te",           "user-agent",
};

constexpr std::array<std::string_view, 5> kConnectionSpecificHeaders = {
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
};

}  // namespace

bool IsBinaryKey(std::string_view key) {
  constexpr std::string_view kSuffix = "-bin";
  return key.size() >= kSuffix.size() && key.substr(key.size() - kSuffix.size()) == kSuffix;
}

Status ValidateMetadataKey(std::string_view key, bool allow_reserved) {
  if (key.empty()) return Status(StatusCode::kInternal, "metadata key is empty");
  for (size_t i = 0; i < key.size(); ++i) {
    if (!IsKeyChar(key[i])) {
      return Status(StatusCode::kInternal, "metadata key " + QuoteForMessage(key) +
                                               " has an illegal character at offset " +
                                               std::to_string(i) + " (allowed: 0-9 a-z _ - .)");
    }
  }
  if (allow_reserved) return Status::Ok();
  if (StartsWith(key, "grpc-")) {
    return Status(StatusCode::kInternal,
                  "metadata key " + QuoteForMessage(key) + " is reserved (grpc- prefix)");
  }
  if (IsReservedHeader(key) || IsConnectionSpecificHeader(key)) {
    return Status(StatusCode::kInternal,
                  "metadata key " + QuoteForMessage(key) + " is a protocol header, not metadata");
  }
  return Status::Ok();
}

Status ValidateMetadataValue(std::string_view key, std::string_view value) {
  if (IsBinaryKey(key)) return Status::Ok();
  for (size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c > 0x7E) {
      return Status(StatusCode::kInternal, "metadata value of " + QuoteForMessage(key) +
                                               " has a non-printable or non-ASCII byte at offset " +
                                               std::to_string(i) +
                                               " (use a -bin key for binary values)");
    }
  }
  return Status::Ok();
}

std::string Base64EncodeUnpadded(std::string_view raw) {
  std::string out;
  out.reserve((raw.size() + 2) / 3 * 4);
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  size_t i = 0;
  for (; i + 3 <= raw.size(); i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
    out += kBase64Alphabet[v & 63];
  }
  const size_t rest = raw.size() - i;
  if (rest == 1) {
    const uint32_t v = uint32_t{p[i]} << 16;
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8);
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
  }
  return out;
}

StatusOr<std::string> Base64Decode(std::string_view encoded) {
  // Padding is only meaningful on a whole number of quads; then one or two '=' may end it.
  size_t padding = 0;
  if (!encoded.empty() && encoded.size() % 4 == 0 && encoded.back() == '=') {
    padding = encoded[encoded.size() - 2] == '=' ? 2 : 1;
  }
  const std::string_view body = encoded.substr(0, encoded.size() - padding);
  if (body.size() % 4 == 1) {
    return InvalidBase64("length " + std::to_string(encoded.size()) + " is impossible");
  }
  std::string out;
  out.reserve(body.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int acc_chars = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    const int8_t v = kBase64Values[static_cast<unsigned char>(body[i])];
    if (v < 0) {
      return InvalidBase64(body[i] == '=' ? "misplaced '=' at offset " + std::to_string(i)
                                          : "illegal character at offset " + std::to_string(i));
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    if (++acc_chars == 4) {
      out += static_cast<char>(acc >> 16);
      out += static_cast<char>(acc >> 8);
      out += static_cast<char>(acc);
      acc = 0;
      acc_chars = 0;
    }
  }
  if (acc_chars == 2) {  // 12 bits: one byte, 4 unused bits
    out += static_cast<char>(acc >> 4);
  } else if (acc_chars == 3) {  // 18 bits: two bytes, 2 unused bits
    out += static_cast<char>(acc >> 10);
    out += static_cast<char>(acc >> 2);
  }
  return out;
}

StatusOr<std::vector<std::string>> DecodeBinaryHeader(std::string_view value) {
  std::vector<std::string> values;
  while (true) {
    const size_t comma = value.find(',');
    StatusOr<std::string> decoded = Base64Decode(TrimSpaces(value.substr(0, comma)));
    if (!decoded.ok()) {
      return Status(decoded.status().code(), decoded.status().message() + " (element " +
                                                 std::to_string(values.size()) + ")");
    }
    values.push_back(std::move(*decoded));
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return values;
}

std::string EncodeMetadataValue(std::string_view key, std::string_view value) {
  if (IsBinaryKey(key)) return Base64EncodeUnpadded(value);
  return std::string(value);
}

bool IsReservedHeader(std::string_view name) {
  if (!name.empty() && name.front() == ':') return true;
  for (const std::string_view reserved : kReservedHeaders) {
    if (name == reserved) return true;
  }
  return false;
}

bool IsConnectionSpecificHeader(std::string_view name) {
  for (const std::string_view header : kConnectionSpecificHeaders) {
    if (name == header) return true;
  }
  return false;
}

}  // namespace h2rpc::codec
