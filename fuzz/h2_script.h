// Building blocks for the fuzz harnesses that play HTTP/2 scripts over a socket (fuzz_server,
// fuzz_client): reading the fuzz input, assembling frames and HPACK blocks, sending.
#pragma once

#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "codec/compression.h"
#include "fuzz_check.h"

namespace fuzz_h2 {

// The fuzz input, read a byte at a time; past its end every read gives zeros.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return size_ == 0; }
  uint8_t Byte() {
    if (size_ == 0) return 0;
    --size_;
    return *data_++;
  }
  uint32_t Uint32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | Byte();
    return v;
  }
  std::string Bytes(size_t max) {
    const size_t n = std::min<size_t>(Byte() % (max + 1), size_);
    std::string out(reinterpret_cast<const char*>(data_), n);
    data_ += n;
    size_ -= n;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
};

// ---- Assembling frames ----

inline void AppendFrame(std::string& out, uint8_t type, uint8_t flags, uint32_t stream_id,
                        std::string_view payload) {
  const size_t n = payload.size();
  out += static_cast<char>(n >> 16);
  out += static_cast<char>(n >> 8);
  out += static_cast<char>(n);
  out += static_cast<char>(type);
  out += static_cast<char>(flags);
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>(stream_id >> shift);
  out += payload;
}

inline std::string Be32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(v >> (24 - 8 * i));
  return s;
}

inline std::string Pick(Input& in, std::initializer_list<const char*> choices) {
  const size_t i = in.Byte() % (choices.size() + 1);
  if (i == choices.size()) return in.Bytes(24);  // anything at all
  return *(choices.begin() + i);
}

struct Field {
  std::string name, value;
};

// An HPACK encoder for one connection (its dynamic table follows every block encoded).
class HpackEncoder {
 public:
  HpackEncoder() { FUZZ_CHECK(nghttp2_hd_deflate_new(&deflater_, 4096) == 0); }
  ~HpackEncoder() { nghttp2_hd_deflate_del(deflater_); }
  HpackEncoder(const HpackEncoder&) = delete;
  HpackEncoder& operator=(const HpackEncoder&) = delete;

  std::string Encode(const std::vector<Field>& fields) { return EncodeHeaders(deflater_, fields); }

 private:
  static std::string EncodeHeaders(nghttp2_hd_deflater* deflater,
                                   const std::vector<Field>& fields) {
    std::vector<nghttp2_nv> nva;
    for (const Field& f : fields) {
      nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(f.name.data())),
                     reinterpret_cast<uint8_t*>(const_cast<char*>(f.value.data())), f.name.size(),
                     f.value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    std::string block(nghttp2_hd_deflate_bound(deflater, nva.data(), nva.size()), '\0');
    const ssize_t n = nghttp2_hd_deflate_hd(deflater, reinterpret_cast<uint8_t*>(block.data()),
                                            block.size(), nva.data(), nva.size());
    FUZZ_CHECK(n >= 0);
    block.resize(static_cast<size_t>(n));
    return block;
  }

  nghttp2_hd_deflater* deflater_ = nullptr;
};

inline std::string GrpcMessage(uint8_t compressed, std::string_view body, uint32_t declared) {
  return std::string(1, static_cast<char>(compressed)) + Be32(declared) + std::string(body);
}

// A DATA payload carrying `body` in one of four forms (`form` % 4): a right gRPC message,
// a compressed one (deflate or gzip), one whose length prefix lies (read from the input,
// possibly far beyond any limit), or the bare bytes with no prefix at all.
inline std::string DataPayload(Input& in, uint8_t form, bool deflate, const std::string& body) {
  switch (form % 4) {
    case 0:
      return GrpcMessage(0, body, static_cast<uint32_t>(body.size()));
    case 1: {
      auto compressed = h2rpc::codec::Compress(
          deflate ? h2rpc::codec::Compression::kDeflate : h2rpc::codec::Compression::kGzip, body);
      FUZZ_CHECK(compressed.ok());
      return GrpcMessage(1, *compressed, static_cast<uint32_t>(compressed->size()));
    }
    case 2: {
      const uint8_t compressed_flag = in.Byte() & 1;
      return GrpcMessage(compressed_flag, body, in.Uint32());
    }
    default:
      return body;
  }
}

inline bool SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;  // libFuzzer's SIGALRM (the -timeout watchdog)
    if (n <= 0) return false;               // the server closed the connection: fine
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// recv() that goes on after a signal; 0 at the end of the stream, -1 on an error.
inline ssize_t Receive(int fd, char* buffer, size_t size) {
  for (;;) {
    const ssize_t n = recv(fd, buffer, size, 0);
    if (n >= 0 || errno != EINTR) return n;
  }
}

// Reads what the peer sends into `view` (anything with Add(const char*, size_t)) until `done()`
// or `wait` passes; false once the peer closed or reset the connection.
template <class View, class Done>
bool ReadUntil(int fd, View& view, std::chrono::milliseconds wait, Done done) {
  const auto until = std::chrono::steady_clock::now() + wait;
  char buffer[16384];
  while (!done()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return true;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = Receive(fd, buffer, sizeof buffer);
    if (n <= 0) return false;
    view.Add(buffer, static_cast<size_t>(n));
  }
  return true;
}

// The harness's end of a plaintext connection, with the interface of fuzz_tls::TlsWire.
class PlainWire {
 public:
  static constexpr ssize_t kWouldBlock = -2;
  explicit PlainWire(int fd) : fd_(fd) {}
  int fd() const { return fd_; }
  bool Send(std::string_view bytes) { return SendAll(fd_, bytes); }
  ssize_t Read(char* buffer, size_t size) { return Receive(fd_, buffer, size); }
  bool Buffered() const { return false; }
  void End() { shutdown(fd_, SHUT_WR); }

 private:
  int fd_;
};

// The same over a wire that may hold bytes of its own (a TLS connection: fuzz_tls::TlsWire):
// Wire has fd(), Buffered() and Read(), which returns Wire::kWouldBlock when a poll woke it for
// less than a whole record.
template <class Wire, class View, class Done>
bool ReadWireUntil(Wire& wire, View& view, std::chrono::milliseconds wait, Done done) {
  const auto until = std::chrono::steady_clock::now() + wait;
  char buffer[16384];
  while (!done()) {
    if (!wire.Buffered()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return true;
      pollfd p{wire.fd(), POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    }
    const ssize_t n = wire.Read(buffer, sizeof buffer);
    if (n == Wire::kWouldBlock) continue;
    if (n <= 0) return false;
    view.Add(buffer, static_cast<size_t>(n));
  }
  return true;
}

}  // namespace fuzz_h2
