#include "tests/rpc/raw_peer.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "codec/framing.h"
#include "codec/percent.h"

namespace h2rpc::testing {

namespace {

using Clock = std::chrono::steady_clock;

std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

void Put32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

uint32_t Get32(std::string_view s, size_t off) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(s[off])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[off + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[off + 2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(s[off + 3]));
}

int RemainingMs(Clock::time_point until) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

// ---- StreamResult ----

std::string StreamResult::Header(std::string_view name) const {
  for (auto block = header_blocks.rbegin(); block != header_blocks.rend(); ++block) {
    for (const auto& [k, v] : *block) {
      if (k == name) return v;
    }
  }
  return "";
}

std::string StreamResult::InitialHeader(std::string_view name) const {
  if (header_blocks.empty()) return "";
  for (const auto& [k, v] : header_blocks.front()) {
    if (k == name) return v;
  }
  return "";
}

Status StreamResult::GrpcStatus() const {
  if (header_blocks.empty()) return Status(StatusCode::kUnknown, "no headers");
  const HeaderList& last = header_blocks.back();
  std::string code;
  std::string message;
  bool found = false;
  for (const auto& [k, v] : last) {
    if (k == "grpc-status") {
      code = v;
      found = true;
    }
    if (k == "grpc-message") message = codec::PercentDecode(v);
  }
  if (!found) return Status(StatusCode::kUnknown, "no grpc-status");
  return Status(StatusCodeFromInt(std::stoll(code)), message);
}

std::vector<std::string> StreamResult::Messages() const {
  std::vector<std::string> out;
  codec::Deframer deframer(0xffffffffu, /*compression_negotiated=*/true);
  std::string_view rest = data;
  while (!rest.empty()) {
    const size_t n = deframer.Feed(rest);
    rest.remove_prefix(n);
    bool took = false;
    while (auto m = deframer.Next()) {
      out.push_back(std::move(m->payload));
      took = true;
    }
    if (deframer.failed() || (n == 0 && !took)) break;
  }
  return out;
}

HeaderList GrpcRequest(const std::string& path, const HeaderList& extra) {
  HeaderList h = {{":method", "POST"},
                  {":scheme", "http"},
                  {":path", path},
                  {":authority", "localhost"},
                  {"content-type", "application/grpc"},
                  {"te", "trailers"}};
  for (const auto& kv : extra) h.push_back(kv);
  return h;
}

std::string GrpcFrame(std::string_view payload, bool compressed) {
  return codec::EncodeFrame(payload, compressed);
}

// ---- RawPeer ----

RawPeer::RawPeer(int port, const std::string& host, bool send_preface) {
  nghttp2_hd_deflate_new(&deflater_, 4096);
  nghttp2_hd_inflate_new(&inflater_);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) return;
  for (addrinfo* ai = res; ai != nullptr && fd_ < 0; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      ::close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fd_ = fd;
  }
  freeaddrinfo(res);
  if (fd_ >= 0 && send_preface) {
    SendPreface({{0x4 /*INITIAL_WINDOW_SIZE*/, 0x7fffffff}, {0x2 /*ENABLE_PUSH*/, 0}});
    SendWindowUpdate(0, 0x7fffffff - 65535);
    // Like a real client: take the server's SETTINGS (and ACK them) before sending requests, so
    // the server's stream window (4 MiB, not the 65535 default) is in force for what follows.
    RunUntil([this] { return got_server_settings_; }, 5000ms);
  }
}

RawPeer::~RawPeer() {
  Close();
  nghttp2_hd_deflate_del(deflater_);
  nghttp2_hd_inflate_del(inflater_);
}

void RawPeer::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string RawPeer::FrameBytes(uint8_t type, uint8_t flags, int32_t stream_id,
                                std::string_view payload) {
  std::string out;
  out.reserve(9 + payload.size());
  const auto len = static_cast<uint32_t>(payload.size());
  out.push_back(static_cast<char>(len >> 16));
  out.push_back(static_cast<char>(len >> 8));
  out.push_back(static_cast<char>(len));
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(flags));
  Put32(out, static_cast<uint32_t>(stream_id) & 0x7fffffffu);
  out.append(payload);
  return out;
}

std::string RawPeer::EncodeHeaderBlock(const HeaderList& headers) {
  std::vector<nghttp2_nv> nva;
  for (const auto& [k, v] : headers) {
    nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(k.data())),
                   reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), k.size(), v.size(),
                   NGHTTP2_NV_FLAG_NONE});
  }
  std::string out(nghttp2_hd_deflate_bound(deflater_, nva.data(), nva.size()), '\0');
  const ssize_t n = nghttp2_hd_deflate_hd(deflater_, reinterpret_cast<uint8_t*>(out.data()),
                                          out.size(), nva.data(), nva.size());
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

bool RawPeer::SendRaw(std::string_view bytes) {
  while (!bytes.empty()) {
    if (fd_ < 0) return false;
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

size_t RawPeer::SendRawFor(std::string_view bytes, std::chrono::milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  size_t sent = 0;
  while (sent < bytes.size() && fd_ >= 0) {
    pollfd p{fd_, POLLOUT, 0};
    if (poll(&p, 1, RemainingMs(until)) <= 0) break;
    const ssize_t n =
        ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      break;
    }
    sent += static_cast<size_t>(n);
  }
  return sent;
}

bool RawPeer::SendPreface(const std::vector<std::pair<uint16_t, uint32_t>>& settings) {
  return SendRaw(kPreface) && SendSettings(settings);
}

bool RawPeer::SendSettings(const std::vector<std::pair<uint16_t, uint32_t>>& settings) {
  std::string payload;
  for (const auto& [id, value] : settings) {
    payload.push_back(static_cast<char>(id >> 8));
    payload.push_back(static_cast<char>(id));
    Put32(payload, value);
  }
  return SendRaw(FrameBytes(kSettings, 0, 0, payload));
}

std::string RawPeer::UnaryBytes(int32_t stream_id, const std::string& path,
                                std::string_view message) {
  return FrameBytes(kHeaders, kEndHeaders, stream_id, EncodeHeaderBlock(GrpcRequest(path))) +
         FrameBytes(kData, kEndStream, stream_id, GrpcFrame(message));
}

bool RawPeer::SendHeaders(int32_t stream_id, const HeaderList& headers, bool end_stream) {
  // Blocks larger than the server's SETTINGS_MAX_FRAME_SIZE (16 KiB) continue in CONTINUATION
  // frames, as RFC 9113 §4.3 requires.
  constexpr size_t kMax = 16384;
  const std::string block = EncodeHeaderBlock(headers);
  std::string_view rest = block;
  std::string out;
  bool first = true;
  do {
    const std::string_view piece = rest.substr(0, kMax);
    rest.remove_prefix(piece.size());
    uint8_t flags = rest.empty() ? kEndHeaders : 0;
    if (first && end_stream) flags |= kEndStream;
    out += FrameBytes(first ? kHeaders : kContinuation, flags, stream_id, piece);
    first = false;
  } while (!rest.empty());
  return SendRaw(out);
}

bool RawPeer::SendData(int32_t stream_id, std::string_view data, bool end_stream) {
  // Split at 16 KiB: the server's SETTINGS_MAX_FRAME_SIZE.
  constexpr size_t kMax = 16384;
  do {
    const size_t n = std::min(kMax, data.size());
    const bool last = n == data.size();
    if (!SendRaw(FrameBytes(kData, (last && end_stream) ? kEndStream : 0, stream_id,
                            data.substr(0, n)))) {
      return false;
    }
    data.remove_prefix(n);
  } while (!data.empty());
  return true;
}

bool RawPeer::SendRst(int32_t stream_id, uint32_t code) {
  std::string payload;
  Put32(payload, code);
  return SendRaw(FrameBytes(kRstStream, 0, stream_id, payload));
}

bool RawPeer::SendPing(uint64_t opaque, bool ack) {
  std::string payload(8, '\0');
  std::memcpy(payload.data(), &opaque, 8);
  return SendRaw(FrameBytes(kPing, ack ? kAck : 0, 0, payload));
}

bool RawPeer::SendWindowUpdate(int32_t stream_id, uint32_t increment) {
  std::string payload;
  Put32(payload, increment);
  return SendRaw(FrameBytes(kWindowUpdate, 0, stream_id, payload));
}

bool RawPeer::SendGoaway(int32_t last_stream_id, uint32_t code) {
  std::string payload;
  Put32(payload, static_cast<uint32_t>(last_stream_id));
  Put32(payload, code);
  return SendRaw(FrameBytes(kGoaway, 0, 0, payload));
}

bool RawPeer::SendUnary(int32_t stream_id, const std::string& path, std::string_view message,
                        const HeaderList& extra) {
  return SendHeaders(stream_id, GrpcRequest(path, extra), false) &&
         SendData(stream_id, GrpcFrame(message), true);
}

bool RawPeer::FillBuffer(std::chrono::milliseconds timeout) {
  if (fd_ < 0 || closed_) return false;
  pollfd p{fd_, POLLIN, 0};
  const int r = poll(&p, 1, static_cast<int>(timeout.count()));
  if (r <= 0) return false;
  char buf[65536];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    closed_ = true;
    return false;
  }
  in_.append(buf, static_cast<size_t>(n));
  return true;
}

std::optional<Frame> RawPeer::ReadFrame(std::chrono::milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  for (;;) {
    if (in_.size() >= 9) {
      const size_t len = (static_cast<size_t>(static_cast<uint8_t>(in_[0])) << 16) |
                         (static_cast<size_t>(static_cast<uint8_t>(in_[1])) << 8) |
                         static_cast<uint8_t>(in_[2]);
      if (in_.size() >= 9 + len) {
        Frame f;
        f.type = static_cast<uint8_t>(in_[3]);
        f.flags = static_cast<uint8_t>(in_[4]);
        f.stream_id = static_cast<int32_t>(Get32(in_, 5) & 0x7fffffffu);
        f.payload = in_.substr(9, len);
        in_.erase(0, 9 + len);
        return f;
      }
    }
    const int left = RemainingMs(until);
    if (closed_ || !FillBuffer(std::chrono::milliseconds(left))) {
      if (closed_ || RemainingMs(until) == 0) return std::nullopt;
    }
  }
}

void RawPeer::Process(Frame& f) {
  switch (f.type) {
    case kSettings:
      if ((f.flags & kAck) == 0) {
        if (!got_server_settings_) {
          for (size_t off = 0; off + 6 <= f.payload.size(); off += 6) {
            const uint16_t id = static_cast<uint16_t>((static_cast<uint8_t>(f.payload[off]) << 8) |
                                                      static_cast<uint8_t>(f.payload[off + 1]));
            server_settings_[id] = Get32(f.payload, off + 2);
          }
          got_server_settings_ = true;
        }
        if (auto_ack_) SendRaw(FrameBytes(kSettings, kAck, 0, ""));
      }
      break;
    case kPing:
      if ((f.flags & kAck) == 0 && auto_ack_) SendRaw(FrameBytes(kPing, kAck, 0, f.payload));
      break;
    case kGoaway:
      if (f.payload.size() >= 8) {
        const auto last = static_cast<int32_t>(Get32(f.payload, 0) & 0x7fffffffu);
        const uint32_t code = Get32(f.payload, 4);
        goaway_ = std::make_pair(code, last);
        goaways_.emplace_back(last, code);
      }
      break;
    case kRstStream: {
      StreamResult& s = streams_[f.stream_id];
      s.reset = true;
      s.rst_code = f.payload.size() >= 4 ? Get32(f.payload, 0) : 0;
      break;
    }
    case kData: {
      std::string_view payload = f.payload;
      if ((f.flags & kPadded) && !payload.empty()) {
        const size_t pad = static_cast<uint8_t>(payload[0]);
        payload = payload.substr(1, payload.size() - 1 - std::min(pad, payload.size() - 1));
      }
      StreamResult& s = streams_[f.stream_id];
      s.data.append(payload);
      if (f.flags & kEndStream) s.end_stream = true;
      // Keep the server's windows open: give back what we received.
      if (!f.payload.empty() && auto_window_update_) {
        SendWindowUpdate(0, static_cast<uint32_t>(f.payload.size()));
        if (!(f.flags & kEndStream)) {
          SendWindowUpdate(f.stream_id, static_cast<uint32_t>(f.payload.size()));
        }
      }
      break;
    }
    case kHeaders:
    case kContinuation: {
      std::string_view block = f.payload;
      if (f.type == kHeaders) {
        if ((f.flags & kPadded) && !block.empty()) {
          const size_t pad = static_cast<uint8_t>(block[0]);
          block = block.substr(1, block.size() - 1 - std::min(pad, block.size() - 1));
        }
        if (f.flags & 0x20 /*PRIORITY*/) block.remove_prefix(std::min<size_t>(5, block.size()));
        continuing_stream_ = f.stream_id;
        continuing_flags_ = f.flags;
        continuing_block_.assign(block);
      } else {
        continuing_block_.append(block);
      }
      if ((f.flags & kEndHeaders) == 0) break;
      HeaderList headers;
      const auto* in = reinterpret_cast<const uint8_t*>(continuing_block_.data());
      size_t left = continuing_block_.size();
      for (;;) {
        nghttp2_nv nv;
        int inflate_flags = 0;
        const ssize_t used = nghttp2_hd_inflate_hd2(inflater_, &nv, &inflate_flags, in, left, 1);
        if (used < 0) break;
        in += used;
        left -= static_cast<size_t>(used);
        if (inflate_flags & NGHTTP2_HD_INFLATE_EMIT) {
          headers.emplace_back(std::string(reinterpret_cast<char*>(nv.name), nv.namelen),
                               std::string(reinterpret_cast<char*>(nv.value), nv.valuelen));
        }
        if (inflate_flags & NGHTTP2_HD_INFLATE_FINAL) {
          nghttp2_hd_inflate_end_headers(inflater_);
          break;
        }
        if ((inflate_flags & NGHTTP2_HD_INFLATE_EMIT) == 0 && left == 0) break;
      }
      StreamResult& s = streams_[continuing_stream_];
      s.header_blocks.push_back(std::move(headers));
      if (continuing_flags_ & kEndStream) s.end_stream = true;
      break;
    }
    default:
      break;
  }
}

bool RawPeer::RunUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  while (!done()) {
    const int left = RemainingMs(until);
    if (left == 0) return done();
    auto f = ReadFrame(std::chrono::milliseconds(left));
    if (!f) {
      if (closed_) return done();
      continue;
    }
    Process(*f);
  }
  return true;
}

bool RawPeer::WaitStream(int32_t stream_id, std::chrono::milliseconds timeout) {
  return RunUntil([&] { return streams_[stream_id].done(); }, timeout);
}

StreamResult RawPeer::Unary(const std::string& path, std::string_view message,
                            const HeaderList& extra, std::chrono::milliseconds timeout) {
  const int32_t id = NextStreamId();
  SendUnary(id, path, message, extra);
  WaitStream(id, timeout);
  return streams_[id];
}

int ThreadCount() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
  }
  return n;
}

long ResidentKib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

}  // namespace h2rpc::testing
