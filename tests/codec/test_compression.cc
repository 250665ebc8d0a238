// Tests of codec/compression: identity, gzip and deflate (zlib), and the decompressed-size limit
// that defuses compression bombs.
#include "codec/compression.h"

#include <doctest/doctest.h>
#include <zlib.h>

#include <random>
#include <string>

#include "alloc_counter.h"

namespace h2rpc::codec {
namespace {

// "hello" as `gzip -n` and zlib's compress() produce it (reference encoders, not ours).
const std::string kHelloGzip(
    "\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\xcb\x48\xcd\xc9\xc9\x07\x00\x86\xa6\x10\x36\x05\x00"
    "\x00\x00",
    25);
const std::string kHelloZlib("\x78\x9c\xcb\x48\xcd\xc9\xc9\x07\x00\x06\x2c\x02\x15", 13);

constexpr size_t kMiB = 1024 * 1024;

/// Deflates `n` bytes of `in` with `flush` and appends all output to `out`.
void DeflateInto(z_stream& s, const std::string& in, int flush, std::string& out) {
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  s.avail_in = static_cast<uInt>(in.size());
  char buffer[16384];
  do {
    s.next_out = reinterpret_cast<Bytef*>(buffer);
    s.avail_out = sizeof buffer;
    deflate(&s, flush);
    out.append(buffer, sizeof buffer - s.avail_out);
  } while (s.avail_out == 0);
}

/// A valid gzip or zlib stream of `blocks` MiB of zeros, built without ever holding the
/// plain data: one full-flushed MiB block compresses to the same bytes every time, so it is
/// repeated, and the trailer's checksum and length are computed with zlib's combine functions.
/// Deflate cannot beat about 1032:1, so 1 GiB of zeros needs about 1 MiB of compressed data.
std::string ZeroBomb(Compression c, size_t blocks) {
  const bool gzip = c == Compression::kGzip;
  z_stream s{};
  REQUIRE(deflateInit2(&s, 9, Z_DEFLATED, gzip ? 31 : 15, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  const std::string zeros(kMiB, '\0');
  std::string header_and_first;
  DeflateInto(s, zeros, Z_FULL_FLUSH, header_and_first);
  std::string block;
  DeflateInto(s, zeros, Z_FULL_FLUSH, block);
  std::string tail;
  DeflateInto(s, std::string(), Z_FINISH, tail);
  deflateEnd(&s);

  std::string out = header_and_first;
  for (size_t i = 1; i < blocks; ++i) out += block;
  const size_t trailer = gzip ? 8 : 4;
  out += tail.substr(0, tail.size() - trailer);
  const uLong block_crc = crc32(0, reinterpret_cast<const Bytef*>(zeros.data()), kMiB);
  const uLong block_adler = adler32(1, reinterpret_cast<const Bytef*>(zeros.data()), kMiB);
  uLong crc = block_crc;
  uLong adler = block_adler;
  for (size_t i = 1; i < blocks; ++i) {
    crc = crc32_combine(crc, block_crc, kMiB);
    adler = adler32_combine(adler, block_adler, kMiB);
  }
  if (gzip) {
    const uint64_t size = uint64_t{blocks} * kMiB;
    for (int i = 0; i < 4; ++i) out += static_cast<char>(crc >> (8 * i));
    for (int i = 0; i < 4; ++i) out += static_cast<char>(size >> (8 * i));
  } else {
    for (int i = 3; i >= 0; --i) out += static_cast<char>(adler >> (8 * i));
  }
  return out;
}

TEST_CASE("Compression names and grpc-encoding parsing") {
  CHECK(CompressionName(Compression::kIdentity) == "identity");
  CHECK(CompressionName(Compression::kGzip) == "gzip");
  CHECK(CompressionName(Compression::kDeflate) == "deflate");
  CHECK(ParseCompression("identity") == Compression::kIdentity);
  CHECK(ParseCompression("gzip") == Compression::kGzip);
  CHECK(ParseCompression("deflate") == Compression::kDeflate);
  for (const char* unsupported : {"", "br", "zstd", "snappy", "GZIP", " gzip", "gzip,deflate"}) {
    CAPTURE(unsupported);
    CHECK_FALSE(ParseCompression(unsupported).has_value());
  }
  CHECK(SupportedEncodingsHeader() == "identity,deflate,gzip");
}

TEST_CASE("AcceptsEncoding reads a comma list") {
  struct Case {
    const char* header;
    Compression c;
    bool want;
  };
  const Case cases[] = {
      {"identity,deflate,gzip", Compression::kGzip, true},
      {"identity, gzip", Compression::kGzip, true},
      {" gzip ", Compression::kGzip, true},
      {"gzip", Compression::kDeflate, false},
      {"", Compression::kGzip, false},
      {"gzipx,deflatey", Compression::kGzip, false},
      {"x-gzip", Compression::kGzip, false},
      {"deflate,", Compression::kDeflate, true},
      {"", Compression::kIdentity, true},  // identity is always acceptable
      {"gzip", Compression::kIdentity, true},
  };
  for (const Case& c : cases) {
    CAPTURE(c.header);
    CHECK(AcceptsEncoding(c.header, c.c) == c.want);
  }
}

TEST_CASE("Decompress reads reference encoders' output") {
  CHECK(*Decompress(Compression::kGzip, kHelloGzip, 100) == "hello");
  CHECK(*Decompress(Compression::kDeflate, kHelloZlib, 100) == "hello");
  CHECK(*Decompress(Compression::kIdentity, "hello", 100) == "hello");
}

TEST_CASE("Compress produces what reference decoders read") {
  const std::string text = "the quick brown fox jumps over the lazy dog, again and again";
  const auto zlib_data = Compress(Compression::kDeflate, text);
  REQUIRE(zlib_data.ok());
  std::string plain(text.size(), '\0');
  uLongf plain_size = plain.size();
  REQUIRE(uncompress(reinterpret_cast<Bytef*>(plain.data()), &plain_size,
                     reinterpret_cast<const Bytef*>(zlib_data->data()), zlib_data->size()) == Z_OK);
  CHECK(plain == text);
  const auto gzip_data = Compress(Compression::kGzip, text);
  REQUIRE(gzip_data.ok());
  REQUIRE(gzip_data->size() > 18);
  CHECK((*gzip_data)[0] == '\x1f');
  CHECK((*gzip_data)[1] == '\x8b');
  CHECK(*Compress(Compression::kIdentity, text) == text);
}

TEST_CASE("Round trip: Decompress(Compress(x)) == x for every encoding") {
  std::mt19937 rng(5);
  for (const Compression c : {Compression::kIdentity, Compression::kGzip, Compression::kDeflate}) {
    CAPTURE(CompressionName(c));
    for (int i = 0; i < 60; ++i) {
      const size_t size = i == 0 ? 0 : (i % 10 == 0 ? rng() % 300000 : rng() % 2000);
      std::string x(size, '\0');
      const bool random_bytes = rng() % 2 == 0;
      for (char& ch : x) ch = static_cast<char>(random_bytes ? rng() : 'a' + rng() % 3);
      const auto packed = Compress(c, x);
      REQUIRE(packed.ok());
      const auto back = Decompress(c, *packed, x.size());
      REQUIRE(back.ok());
      CHECK(*back == x);
      if (!x.empty()) {  // one byte less than needed is over the limit
        const auto tight = Decompress(c, *packed, x.size() - 1);
        CHECK(tight.status().code() == StatusCode::kResourceExhausted);
      }
    }
  }
}

TEST_CASE("Decompressed-size limit: exactly the limit passes, one more fails") {
  const std::string data(1000, 'x');
  for (const Compression c : {Compression::kIdentity, Compression::kGzip, Compression::kDeflate}) {
    CAPTURE(CompressionName(c));
    const std::string packed = *Compress(c, data);
    CHECK(Decompress(c, packed, 1000).ok());
    CHECK(Decompress(c, packed, SIZE_MAX).ok());
    const auto over = Decompress(c, packed, 999);
    CHECK(over.status().code() == StatusCode::kResourceExhausted);
    CHECK(over.status().message().find("999") != std::string::npos);
    CHECK(Decompress(c, packed, 0).status().code() == StatusCode::kResourceExhausted);
  }
  // Stopped while inflating: the real size is unknown, only the limit is named.
  CHECK(Decompress(Compression::kGzip, *Compress(Compression::kGzip, std::string(5000, 'x')), 999)
            .status()
            .message() == "received message after decompression larger than max (999)");
  // The stream ended on exactly limit + 1 bytes: both sizes are known.
  CHECK(
      Decompress(Compression::kGzip, *Compress(Compression::kGzip, data), 999).status().message() ==
      "received message after decompression larger than max (1000 vs. 999)");
}

TEST_CASE("A 10 KB gzip that inflates to 10 MB is stopped at the limit") {
  const std::string bomb = ZeroBomb(Compression::kGzip, 10);
  CHECK(bomb.size() < 12 * 1024);
  {
    const testing::AllocationScope scope;
    const auto out = Decompress(Compression::kGzip, bomb, kMiB);
    CHECK(out.status().code() == StatusCode::kResourceExhausted);
    CHECK(scope.Peak() <= kMiB * 5 / 3 + 4096);
  }
  // The generator makes valid streams: with room enough, it inflates to exactly 10 MiB of zeros.
  const auto full = Decompress(Compression::kGzip, bomb, 10 * kMiB);
  REQUIRE(full.ok());
  CHECK(full->size() == 10 * kMiB);
  CHECK(full->find_first_not_of('\0') == std::string::npos);
  const auto zlib_full =
      Decompress(Compression::kDeflate, ZeroBomb(Compression::kDeflate, 3), 3 * kMiB);
  REQUIRE(zlib_full.ok());
  CHECK(zlib_full->size() == 3 * kMiB);
}

TEST_CASE("A 1 GiB bomb is RESOURCE_EXHAUSTED without allocating the gigabyte") {
  for (const Compression c : {Compression::kGzip, Compression::kDeflate}) {
    CAPTURE(CompressionName(c));
    const std::string bomb = ZeroBomb(c, 1024);
    CHECK(bomb.size() < 2 * kMiB);
    const testing::AllocationScope scope;
    const auto out = Decompress(c, bomb, 4 * kMiB);
    CHECK(out.status().code() == StatusCode::kResourceExhausted);
    CHECK(out.status().message() ==
          "received message after decompression larger than max (4194304)");
    // The output buffer never exceeds limit + 1; while it grows, old and new copies coexist,
    // the old one at most 2/3 of the limit.
    CHECK(scope.Peak() <= 4 * kMiB * 5 / 3 + 4096);
  }
}

TEST_CASE("Corrupt, truncated and mismatched input is INTERNAL") {
  const std::string gzip_data = *Compress(Compression::kGzip, std::string(5000, 'q'));
  const std::string zlib_data = *Compress(Compression::kDeflate, std::string(5000, 'q'));
  struct Case {
    const char* name;
    Compression c;
    std::string input;
  };
  std::string flipped = gzip_data;
  flipped[gzip_data.size() / 2] ^= 0x55;
  std::string bad_crc = gzip_data;
  bad_crc[gzip_data.size() - 6] ^= 1;
  std::string bad_adler = zlib_data;
  bad_adler.back() ^= 1;
  const Case cases[] = {
      {"truncated gzip", Compression::kGzip, gzip_data.substr(0, gzip_data.size() - 1)},
      {"gzip header only", Compression::kGzip, gzip_data.substr(0, 10)},
      {"truncated zlib", Compression::kDeflate, zlib_data.substr(0, zlib_data.size() / 2)},
      {"gzip read as deflate", Compression::kDeflate, gzip_data},
      {"zlib read as gzip", Compression::kGzip, zlib_data},
      {"flipped byte", Compression::kGzip, flipped},
      {"bad gzip crc", Compression::kGzip, bad_crc},
      {"bad zlib adler", Compression::kDeflate, bad_adler},
      {"garbage", Compression::kGzip, "not compressed at all"},
      {"garbage zlib", Compression::kDeflate, "not compressed at all"},
      {"zlib with trailing bytes", Compression::kDeflate, zlib_data + "x"},
      {"gzip with trailing garbage", Compression::kGzip, gzip_data + "garbage!"},
      {"gzip with a truncated second member", Compression::kGzip,
       gzip_data + gzip_data.substr(0, 12)},
      {"zlib with preset dictionary", Compression::kDeflate,
       std::string("\x78\xbb\x00\x00\x00\x01\x03\x00", 8)},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const auto out = Decompress(c.c, c.input, kMiB);
    REQUIRE_FALSE(out.ok());
    CHECK(out.status().code() == StatusCode::kInternal);
    CHECK_FALSE(out.status().message().empty());
  }
}

TEST_CASE("Concatenated gzip members decode as one message (RFC 1952 §2.2)") {
  const std::string a = *Compress(Compression::kGzip, "hello, ");
  const std::string b = *Compress(Compression::kGzip, "world");
  CHECK(*Decompress(Compression::kGzip, a + b, 100) == "hello, world");
  CHECK(Decompress(Compression::kGzip, a + b, 11).status().code() ==
        StatusCode::kResourceExhausted);
}

TEST_CASE("An empty payload is the empty message in every encoding") {
  for (const Compression c : {Compression::kIdentity, Compression::kGzip, Compression::kDeflate}) {
    const auto out = Decompress(c, "", 0);
    REQUIRE(out.ok());
    CHECK(out->empty());
  }
}

}  // namespace
}  // namespace h2rpc::codec
