// RawPeer: a hand-driven HTTP/2 client for server tests — frame builders written straight to a
// socket (HEADERS, CONTINUATION, DATA, RST_STREAM, SETTINGS, PING, WINDOW_UPDATE, GOAWAY), an
// HPACK encoder/decoder (nghttp2_hd_*), and a reader that collects what the server sends per
// stream. It does no validation of its own: attack tests send what they like.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codec/headers.h"
#include "codec/status.h"

struct nghttp2_hd_deflater;
struct nghttp2_hd_inflater;

namespace h2rpc::testing {

using codec::HeaderList;
using namespace std::chrono_literals;

/// HTTP/2 frame types and flags used by the tests.
enum : uint8_t {
  kData = 0x0,
  kHeaders = 0x1,
  kRstStream = 0x3,
  kSettings = 0x4,
  kPing = 0x6,
  kGoaway = 0x7,
  kWindowUpdate = 0x8,
  kContinuation = 0x9,
};
enum : uint8_t { kEndStream = 0x1, kAck = 0x1, kEndHeaders = 0x4, kPadded = 0x8 };

struct Frame {
  uint8_t type = 0;
  uint8_t flags = 0;
  int32_t stream_id = 0;
  std::string payload;
};

/// What the server sent on one stream.
struct StreamResult {
  std::vector<HeaderList> header_blocks;  // response headers, then trailers (or one T-O block)
  std::string data;                       // concatenated DATA payloads
  bool end_stream = false;                // END_STREAM received
  bool reset = false;                     // RST_STREAM received
  uint32_t rst_code = 0;
  bool done() const { return end_stream || reset; }
  /// Value of `name` in the last header block that has it, or "".
  std::string Header(std::string_view name) const;
  /// Value of `name` in the first header block, or "".
  std::string InitialHeader(std::string_view name) const;
  /// grpc-status / grpc-message of the final block (UNKNOWN "no grpc-status" if missing).
  Status GrpcStatus() const;
  /// The length-prefixed messages in `data` (payloads; compressed ones as sent).
  std::vector<std::string> Messages() const;
  /// Number of header blocks; 1 with END_STREAM is a Trailers-Only response.
  bool trailers_only() const { return header_blocks.size() == 1 && end_stream && data.empty(); }
};

/// Standard gRPC request headers for `path`, plus `extra` appended.
HeaderList GrpcRequest(const std::string& path, const HeaderList& extra = {});
/// 5-byte prefix + payload.
std::string GrpcFrame(std::string_view payload, bool compressed = false);

class RawPeer {
 public:
  /// Connects (blocking, 5 s timeout) to host:port. `send_preface`: client magic + SETTINGS
  /// (initial window 2^31-1, so the server can send freely) + a large connection WINDOW_UPDATE,
  /// then waits for the server's SETTINGS and ACKs them. Note: the peer ignores the server's
  /// flow-control windows when it sends (tests stay within 4 MiB per stream).
  explicit RawPeer(int port, const std::string& host = "127.0.0.1", bool send_preface = true);
  ~RawPeer();
  RawPeer(const RawPeer&) = delete;
  RawPeer& operator=(const RawPeer&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // ---- Frame builders (bytes only) ----
  static std::string FrameBytes(uint8_t type, uint8_t flags, int32_t stream_id,
                                std::string_view payload);
  /// HPACK-encodes with this peer's encoder (its dynamic table state advances).
  std::string EncodeHeaderBlock(const HeaderList& headers);
  /// A small unary request's bytes (HEADERS, then DATA with END_STREAM), to be written together
  /// with other frames in one send.
  std::string UnaryBytes(int32_t stream_id, const std::string& path, std::string_view message);

  // ---- Sending (blocking; false once the connection is broken) ----
  bool SendRaw(std::string_view bytes);
  /// Writes as much as the socket takes within `timeout`; returns bytes written.
  size_t SendRawFor(std::string_view bytes, std::chrono::milliseconds timeout);
  bool SendPreface(const std::vector<std::pair<uint16_t, uint32_t>>& settings);
  bool SendHeaders(int32_t stream_id, const HeaderList& headers, bool end_stream);
  bool SendData(int32_t stream_id, std::string_view data, bool end_stream);
  bool SendRst(int32_t stream_id, uint32_t code);
  bool SendPing(uint64_t opaque, bool ack = false);
  bool SendSettings(const std::vector<std::pair<uint16_t, uint32_t>>& settings);
  bool SendWindowUpdate(int32_t stream_id, uint32_t increment);
  bool SendGoaway(int32_t last_stream_id, uint32_t code);
  /// A request: HEADERS (+ DATA with `message` framed) with END_STREAM.
  bool SendUnary(int32_t stream_id, const std::string& path, std::string_view message,
                 const HeaderList& extra = {});

  // ---- Receiving ----
  /// Next frame, or nullopt on timeout / EOF (then closed() is true).
  std::optional<Frame> ReadFrame(std::chrono::milliseconds timeout);
  /// Reads and processes frames (SETTINGS/PING get ACKs, HEADERS are decoded per stream) until
  /// `done()` or timeout or EOF. True if `done()` held.
  bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5000ms);
  bool WaitStream(int32_t stream_id, std::chrono::milliseconds timeout = 5000ms);
  /// Sends a unary request on a fresh stream id and waits for its end.
  StreamResult Unary(const std::string& path, std::string_view message,
                     const HeaderList& extra = {}, std::chrono::milliseconds timeout = 5000ms);
  int32_t NextStreamId() {
    const int32_t id = next_stream_id_;
    next_stream_id_ += 2;
    return id;
  }

  StreamResult& stream(int32_t id) { return streams_[id]; }
  const std::map<int32_t, StreamResult>& streams() const { return streams_; }
  bool closed() const { return closed_; }
  bool goaway_received() const { return goaway_.has_value(); }
  uint32_t goaway_error() const { return goaway_ ? goaway_->first : 0; }
  int32_t goaway_last_stream_id() const { return goaway_ ? goaway_->second : -1; }
  /// Every GOAWAY seen, in order (last_stream_id, error).
  const std::vector<std::pair<int32_t, uint32_t>>& goaways() const { return goaways_; }
  /// The server's SETTINGS values (id → value) from its first SETTINGS frame.
  const std::map<uint16_t, uint32_t>& server_settings() const { return server_settings_; }
  /// Automatic ACKs of SETTINGS and PING (on by default).
  void set_auto_ack(bool on) { auto_ack_ = on; }
  /// WINDOW_UPDATEs for every DATA frame received (on by default); off keeps windows shut.
  void set_auto_window_update(bool on) { auto_window_update_ = on; }
  void Close();

 private:
  void Process(Frame& frame);
  bool FillBuffer(std::chrono::milliseconds timeout);

  int fd_ = -1;
  bool closed_ = false;
  bool auto_ack_ = true;
  bool auto_window_update_ = true;
  int32_t next_stream_id_ = 1;
  std::string in_;
  nghttp2_hd_deflater* deflater_ = nullptr;
  nghttp2_hd_inflater* inflater_ = nullptr;
  std::map<int32_t, StreamResult> streams_;
  std::optional<std::pair<uint32_t, int32_t>> goaway_;
  std::vector<std::pair<int32_t, uint32_t>> goaways_;
  std::map<uint16_t, uint32_t> server_settings_;
  bool got_server_settings_ = false;
  // A header block being continued (HEADERS without END_HEADERS, then CONTINUATION).
  int32_t continuing_stream_ = 0;
  uint8_t continuing_flags_ = 0;
  std::string continuing_block_;
};

/// Number of threads in this process (from /proc/self/task).
int ThreadCount();
/// Resident set size of this process in KiB (from /proc/self/status).
long ResidentKib();

}  // namespace h2rpc::testing
