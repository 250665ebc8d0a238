// Tests of codec/metadata: keys, values, base64 for -bin, reserved and connection headers.
#include "codec/metadata.h"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

namespace h2rpc::codec {
namespace {

TEST_CASE("HeaderFieldSize counts name + value + 32") {
  CHECK(HeaderFieldSize("", "") == 32);
  CHECK(HeaderFieldSize("key", "value") == 40);
}

TEST_CASE("IsBinaryKey") {
  CHECK(IsBinaryKey("trace-bin"));
  CHECK(IsBinaryKey("-bin"));
  CHECK(IsBinaryKey("grpc-status-details-bin"));
  CHECK_FALSE(IsBinaryKey("bin"));
  CHECK_FALSE(IsBinaryKey("trace-bin2"));
  CHECK_FALSE(IsBinaryKey("trace-BIN"));
  CHECK_FALSE(IsBinaryKey(""));
}

TEST_CASE("ValidateMetadataKey") {
  for (const char* good : {"a", "x-user-id", "key_1.2", "0", "-", "trace-bin", "..."}) {
    CAPTURE(good);
    CHECK(ValidateMetadataKey(good).ok());
  }
  struct Bad {
    std::string key;
    const char* why;
  };
  const Bad bad[] = {
      {"", "metadata key is empty"},
      {"Upper", "illegal character at offset 0"},
      {"x-Foo", "illegal character at offset 2"},
      {":path", "illegal character at offset 0"},
      {"a b", "illegal character at offset 1"},
      {"a/b", "illegal character at offset 1"},
      {"a\nb", "illegal character at offset 1"},
      {std::string("a\0", 2), "illegal character at offset 1"},
      {"\xC3\xA9", "illegal character at offset 0"},
      {"grpc-foo", "is reserved (grpc- prefix)"},
      {"grpc-", "is reserved (grpc- prefix)"},
      {"content-type", "is a protocol header, not metadata"},
      {"te", "is a protocol header, not metadata"},
      {"user-agent", "is a protocol header, not metadata"},
      {"connection", "is a protocol header, not metadata"},
      {"transfer-encoding", "is a protocol header, not metadata"},
  };
  for (const Bad& b : bad) {
    CAPTURE(b.key);
    const Status s = ValidateMetadataKey(b.key);
    CHECK(s.code() == StatusCode::kInternal);
    CHECK(s.message().find(b.why) != std::string::npos);
  }
  CHECK(ValidateMetadataKey("x-Foo").message() ==
        "metadata key \"x-Foo\" has an illegal character at offset 2 (allowed: 0-9 a-z _ - .)");
  CHECK(ValidateMetadataKey("grpc-trace-bin", /*allow_reserved=*/true).ok());
  CHECK(ValidateMetadataKey("content-type", /*allow_reserved=*/true).ok());  // syntax only
  CHECK(ValidateMetadataKey("content-types").ok());
  CHECK(ValidateMetadataKey("grpcx").ok());
  CHECK_FALSE(ValidateMetadataKey("GRPC-x", true).ok());
}

TEST_CASE("ValidateMetadataValue: printable ASCII unless the key is -bin") {
  for (const char* good : {"", " ", "~", "hello world", "a=b; c"}) {
    CHECK(ValidateMetadataValue("k", good).ok());
  }
  for (const std::string& bad :
       {std::string("\t"), std::string("a\nb"), std::string("\x7F"), std::string("\x1F"),
        std::string("caf\xC3\xA9"), std::string("\0", 1)}) {
    CAPTURE(bad);
    const Status s = ValidateMetadataValue("k", bad);
    CHECK(s.code() == StatusCode::kInternal);
    CHECK(s.message().find("\"k\"") != std::string::npos);
  }
  CHECK(ValidateMetadataValue("k", "ab\ncd").message() ==
        "metadata value of \"k\" has a non-printable or non-ASCII byte at offset 2 (use a -bin "
        "key for binary values)");
  CHECK(ValidateMetadataValue("k-bin", std::string("\0\xFF\n", 3)).ok());
}

TEST_CASE("Base64EncodeUnpadded matches RFC 4648 vectors without padding") {
  struct Case {
    const char* raw;
    const char* want;
  };
  const Case cases[] = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
  };
  for (const Case& c : cases) {
    CHECK(Base64EncodeUnpadded(c.raw) == c.want);
  }
  CHECK(Base64EncodeUnpadded(std::string("\xFB\xFF\xBF", 3)) == "+/+/");
}

TEST_CASE("Base64Decode accepts padded and unpadded input") {
  struct Case {
    const char* encoded;
    const char* want;
  };
  const Case cases[] = {
      {"", ""},
      {"Zg", "f"},
      {"Zg==", "f"},
      {"Zm8", "fo"},
      {"Zm8=", "fo"},
      {"Zm9v", "foo"},
      {"Zm9vYg", "foob"},
      {"Zm9vYg==", "foob"},
      {"Zm9vYmE", "fooba"},
      {"Zm9vYmE=", "fooba"},
      {"Zm9vYmFy", "foobar"},
      {"Zh", "f"},  // non-zero unused bits are tolerated
  };
  for (const Case& c : cases) {
    CAPTURE(c.encoded);
    const auto decoded = Base64Decode(c.encoded);
    REQUIRE(decoded.ok());
    CHECK(*decoded == c.want);
  }
  CHECK(*Base64Decode("+/+/") == std::string("\xFB\xFF\xBF", 3));
}

TEST_CASE("Base64Decode rejects bad characters, misplaced padding and impossible lengths") {
  struct Case {
    std::string encoded;
    const char* why;
  };
  const Case cases[] = {
      {"Z", "length 1 is impossible"},
      {"Zm9vY", "length 5 is impossible"},
      {"=", "length 1 is impossible"},
      {"==", "misplaced '=' at offset 0"},
      {"====", "misplaced '=' at offset 0"},
      {"Z===", "misplaced '=' at offset 1"},
      {"Zg=", "misplaced '=' at offset 2"},  // padding only on whole quads
      {"Zg===", "length 5 is impossible"},
      {"Zg=a", "misplaced '=' at offset 2"},
      {"Zg==Zg==", "misplaced '=' at offset 2"},
      {"Zm9v\n", "length 5 is impossible"},
      {"Zm 9v", "length 5 is impossible"},
      {"Zm-_", "illegal character at offset 2"},  // URL-safe alphabet is not gRPC's
      {"Zm9v Zm9", "illegal character at offset 4"},
      {"Zm\xC3\xA9", "illegal character at offset 2"},
      {std::string("Zm\0v", 4), "illegal character at offset 2"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.encoded);
    const auto decoded = Base64Decode(c.encoded);
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.status().code() == StatusCode::kInvalidArgument);
    CHECK(decoded.status().message() == std::string("invalid base64: ") + c.why);
  }
}

TEST_CASE("Round trip: Base64Decode(Base64EncodeUnpadded(x)) == x, padded too") {
  std::mt19937 rng(11);
  for (int i = 0; i < 3000; ++i) {
    std::string x(rng() % 100, '\0');
    for (char& c : x) c = static_cast<char>(rng());
    const std::string encoded = Base64EncodeUnpadded(x);
    CHECK(encoded.find('=') == std::string::npos);
    CHECK(encoded.size() == (x.size() * 4 + 2) / 3);
    const auto back = Base64Decode(encoded);
    REQUIRE(back.ok());
    CHECK(*back == x);
    std::string padded = encoded;
    while (padded.size() % 4 != 0) padded += '=';
    const auto back_padded = Base64Decode(padded);
    REQUIRE(back_padded.ok());
    CHECK(*back_padded == x);
  }
}

TEST_CASE("DecodeBinaryHeader splits on commas before decoding") {
  struct Case {
    const char* value;
    std::vector<std::string> want;
  };
  const Case cases[] = {
      {"", {""}},
      {"Zm9v", {"foo"}},
      {"Zm9v,YmFy", {"foo", "bar"}},
      {"Zm9v, YmFy", {"foo", "bar"}},  // proxies join repeated fields with ", "
      {"Zg==,Zm8=", {"f", "fo"}},      // padded elements each end their own quad
      {"Zg,Zm8", {"f", "fo"}},
      {"Zm9v,", {"foo", ""}},
      {",", {"", ""}},
      {" Zm9v\t", {"foo"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.value);
    const auto decoded = DecodeBinaryHeader(c.value);
    REQUIRE(decoded.ok());
    CHECK(*decoded == c.want);
  }
  const auto bad = DecodeBinaryHeader("Zm9v,Z");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message() == "invalid base64: length 1 is impossible (element 1)");
  CHECK_FALSE(DecodeBinaryHeader("Zg==Zg==").ok());
  CHECK_FALSE(DecodeBinaryHeader("a;b").ok());
}

TEST_CASE("EncodeMetadataValue base64-encodes only -bin keys") {
  CHECK(EncodeMetadataValue("k", "v a") == "v a");
  CHECK(EncodeMetadataValue("k-bin", "foo") == "Zm9v");
  CHECK(EncodeMetadataValue("k-bin", "") == "");
  // Several binary values joined for one header line decode back element by element.
  const std::string joined = EncodeMetadataValue("k-bin", "a,b") + "," +
                             EncodeMetadataValue("k-bin", std::string("\0", 1));
  CHECK(*DecodeBinaryHeader(joined) == std::vector<std::string>{"a,b", std::string("\0", 1)});
}

TEST_CASE("IsReservedHeader") {
  for (const char* name : {":path", ":status", ":anything", "content-type", "te", "user-agent",
                           "grpc-timeout", "grpc-encoding", "grpc-accept-encoding", "grpc-status",
                           "grpc-message", "grpc-status-details-bin", "grpc-message-type"}) {
    CAPTURE(name);
    CHECK(IsReservedHeader(name));
  }
  for (const char* name : {"", "x-custom", "grpc-trace-bin", "grpc-previous-rpc-attempts",
                           "authorization", "content-length", "Content-Type"}) {
    CAPTURE(name);
    CHECK_FALSE(IsReservedHeader(name));
  }
}

TEST_CASE("IsConnectionSpecificHeader") {
  for (const char* name :
       {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}) {
    CHECK(IsConnectionSpecificHeader(name));
  }
  for (const char* name : {"te", "", "content-type", "connections", "x-upgrade"}) {
    CHECK_FALSE(IsConnectionSpecificHeader(name));
  }
}

}  // namespace
}  // namespace h2rpc::codec
