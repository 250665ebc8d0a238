// Message compression with zlib. Decompression is streamed into a buffer that grows in bounded
// steps and stops at max_output + 1 bytes, so a decompression bomb costs at most the limit
// (plus zlib's fixed ~40 KiB of state), never what the bomb claims.
#include "codec/compression.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <limits>

namespace h2rpc::codec {

namespace {

/// zlib windowBits for each format: 15 = 32 KiB window (the maximum, what every encoder may
/// use), +16 selects the gzip wrapper instead of zlib's.
constexpr int kZlibWindowBits = 15;
constexpr int kGzipWindowBits = 15 + 16;

/// First output buffer for inflate; it then doubles (capped by the limit). Small enough that a
/// tiny message stays cheap.
constexpr size_t kInflateFirstBuffer = 16 * 1024;

/// zlib counts in uInt; larger inputs and outputs are fed in pieces of at most this.
constexpr size_t kMaxZlibChunk = std::numeric_limits<uInt>::max();

int WindowBits(Compression c) {
  return c == Compression::kGzip ? kGzipWindowBits : kZlibWindowBits;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Status ZlibError(std::string_view what, int rc, const z_stream& stream) {
  std::string message(what);
  message += " failed (zlib ";
  message += std::to_string(rc);
  if (stream.msg != nullptr) {
    message += ": ";
    message += stream.msg;
  }
  message += ")";
  return Status(StatusCode::kInternal, std::move(message));
}

/// Resizes `s` to `size` (> s.capacity() allowed) with capacity exactly `size`: libstdc++ would
/// otherwise round a growing string up to twice its old capacity, past our limit.
void GrowExact(std::string& s, size_t size) {
  if (size <= s.capacity()) {
    s.resize(size);
    return;
  }
  std::string grown;
  grown.reserve(size);
  grown.append(s);
  grown.resize(size);
  s.swap(grown);
}

/// Owns a deflate or inflate stream so every return path releases zlib's state.
class ZStream {
 public:
  explicit ZStream(bool inflating) : inflating_(inflating) {}
  ZStream(const ZStream&) = delete;
  ZStream& operator=(const ZStream&) = delete;
  ~ZStream() {
    if (!initialized_) return;
    if (inflating_) {
      inflateEnd(&stream_);
    } else {
      deflateEnd(&stream_);
    }
  }
  z_stream* get() { return &stream_; }
  void set_initialized() { initialized_ = true; }

 private:
  z_stream stream_{};
  bool inflating_;
  bool initialized_ = false;
};

StatusOr<std::string> Deflate(Compression c, std::string_view raw) {
  ZStream holder(/*inflating=*/false);
  z_stream* s = holder.get();
  int rc = deflateInit2(s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, WindowBits(c), 8, Z_DEFAULT_STRATEGY);
  if (rc != Z_OK) return ZlibError("deflateInit2", rc, *s);
  holder.set_initialized();
  std::string out;
  // deflateBound is exact worst case for a single call; it bounds the output for any split too.
  out.resize(deflateBound(s, static_cast<uLong>(raw.size())) + 64);
  size_t in_used = 0;
  size_t out_used = 0;
  while (true) {
    const size_t in_chunk = std::min(raw.size() - in_used, kMaxZlibChunk);
    s->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data() + in_used));
    s->avail_in = static_cast<uInt>(in_chunk);
    if (out_used == out.size()) out.resize(out.size() * 2);  // defensive; deflateBound holds
    const size_t out_chunk = std::min(out.size() - out_used, kMaxZlibChunk);
    s->next_out = reinterpret_cast<Bytef*>(out.data() + out_used);
    s->avail_out = static_cast<uInt>(out_chunk);
    const bool last = in_used + in_chunk == raw.size();
    rc = deflate(s, last ? Z_FINISH : Z_NO_FLUSH);
    in_used += in_chunk - s->avail_in;
    out_used += out_chunk - s->avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) return ZlibError("deflate", rc, *s);
  }
  out.resize(out_used);
  return out;
}

StatusOr<std::string> Inflate(Compression c, std::string_view compressed, size_t max_output) {
  // Stop as soon as one byte beyond the limit is produced: that proves the limit is exceeded.
  const size_t cap = max_output == std::numeric_limits<size_t>::max() ? max_output : max_output + 1;
  ZStream holder(/*inflating=*/true);
  z_stream* s = holder.get();
  int rc = inflateInit2(s, WindowBits(c));
  if (rc != Z_OK) return ZlibError("inflateInit2", rc, *s);
  holder.set_initialized();

  std::string out;
  size_t in_used = 0;
  size_t out_used = 0;
  while (true) {
    if (out_used == out.size()) {
      if (out.size() >= cap) {
        return Status(StatusCode::kResourceExhausted,
                      "received message after decompression larger than max (" +
                          std::to_string(max_output) + ")");
      }
      // Double, capped by the limit: memory tracks what is really produced, never the bomb.
      // Jump straight to the cap when less than half a step would remain, so the last step is
      // not a copy of the whole buffer for a few bytes. The old buffer is then at most 2/3 of
      // the cap, so the peak while copying stays under 5/3 of the cap.
      size_t next =
          out.size() + std::min(std::max(out.size(), kInflateFirstBuffer), cap - out.size());
      if (cap - next < (next - out.size()) / 2) next = cap;
      GrowExact(out, next);
    }
    const size_t in_chunk = std::min(compressed.size() - in_used, kMaxZlibChunk);
    s->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data() + in_used));
    s->avail_in = static_cast<uInt>(in_chunk);
    const size_t out_chunk = std::min(out.size() - out_used, kMaxZlibChunk);
    s->next_out = reinterpret_cast<Bytef*>(out.data() + out_used);
    s->avail_out = static_cast<uInt>(out_chunk);
    rc = inflate(s, Z_NO_FLUSH);
    const size_t consumed = in_chunk - s->avail_in;
    const size_t produced = out_chunk - s->avail_out;
    in_used += consumed;
    out_used += produced;
    if (rc == Z_STREAM_END) {
      if (in_used == compressed.size()) break;
      // RFC 1952 §2.2: a gzip file is a series of members. zlib stops after each one.
      if (c == Compression::kGzip) {
        rc = inflateReset(s);
        if (rc != Z_OK) return ZlibError("inflateReset", rc, *s);
        continue;
      }
      return Status(StatusCode::kInternal, "trailing bytes after the compressed message (" +
                                               std::to_string(compressed.size() - in_used) +
                                               " bytes)");
    }
    if (rc == Z_NEED_DICT) return Status(StatusCode::kInternal, "inflate needs a dictionary");
    if (rc == Z_DATA_ERROR) return ZlibError("inflate (corrupt data)", rc, *s);
    if (rc == Z_MEM_ERROR) return ZlibError("inflate (out of memory)", rc, *s);
    if (rc != Z_OK && rc != Z_BUF_ERROR) return ZlibError("inflate", rc, *s);
    // Z_OK or Z_BUF_ERROR: more output space or more input is needed. No progress with room
    // left for output means the input ran out before the end of the stream.
    if (consumed == 0 && produced == 0 && out_used < out.size()) {
      return Status(StatusCode::kInternal, "compressed message is truncated");
    }
  }
  out.resize(out_used);
  if (out.size() > max_output) {  // produced exactly cap bytes and ended: still one too many
    return Status(StatusCode::kResourceExhausted,
                  "received message after decompression larger than max (" +
                      std::to_string(out.size()) + " vs. " + std::to_string(max_output) + ")");
  }
  return out;
}

}  // namespace

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kIdentity:
      return "identity";
    case Compression::kGzip:
      return "gzip";
    case Compression::kDeflate:
      return "deflate";
  }
  return "identity";
}

std::optional<Compression> ParseCompression(std::string_view name) {
  if (name == "identity") return Compression::kIdentity;
  if (name == "gzip") return Compression::kGzip;
  if (name == "deflate") return Compression::kDeflate;
  return std::nullopt;
}

std::string_view SupportedEncodingsHeader() { return "identity,deflate,gzip"; }

bool AcceptsEncoding(std::string_view accept_encoding, Compression c) {
  if (c == Compression::kIdentity) return true;
  const std::string_view wanted = CompressionName(c);
  while (true) {
    const size_t comma = accept_encoding.find(',');
    if (Trim(accept_encoding.substr(0, comma)) == wanted) return true;
    if (comma == std::string_view::npos) return false;
    accept_encoding.remove_prefix(comma + 1);
  }
}

StatusOr<std::string> Compress(Compression c, std::string_view raw) {
  if (c == Compression::kIdentity) return std::string(raw);
  return Deflate(c, raw);
}

StatusOr<std::string> Decompress(Compression c, std::string_view compressed, size_t max_output) {
  if (c == Compression::kIdentity) {
    if (compressed.size() > max_output) {
      return Status(StatusCode::kResourceExhausted, "received message larger than max (" +
                                                        std::to_string(compressed.size()) +
                                                        " vs. " + std::to_string(max_output) + ")");
    }
    return std::string(compressed);
  }
  if (compressed.empty()) return std::string();
  return Inflate(c, compressed, max_output);
}

}  // namespace h2rpc::codec
