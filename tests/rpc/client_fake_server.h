// FakeServer: a scriptable raw HTTP/2 server (nghttp2, one thread) for client tests.
//
// It answers whatever a test tells it to, including what no correct gRPC server would send
// (:status 503 without grpc-status, malformed grpc-status, trailers before the request ended,
// RST_STREAM with any code, GOAWAY, a socket closed mid-call), and it records what the client
// put on the wire (headers, messages, resets, stream ids).
//
// Threading: the callbacks and every action run on the server thread. Other threads use
// Post()/PostAfter() to act, and read the counters/records under the server's lock (Snapshot).
// Stream and connection objects live until the server stops, so references stay valid.
#pragma once

#include <nghttp2/nghttp2.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "codec/headers.h"

namespace h2rpc::testing {

class FakeServer {
 public:
  struct Connection;

  /// One request stream as the server sees it.
  struct Stream {
    Connection* connection = nullptr;
    int32_t id = 0;
    codec::HeaderList headers;  // request headers in wire order
    std::string body;           // request DATA not yet taken by TakeMessages
    size_t body_bytes = 0;      // all request DATA bytes received
    bool ended = false;         // the client half-closed
    bool closed = false;
    uint32_t close_code = 0;
    bool reset_by_client = false;
    uint32_t client_reset_code = 0;
    size_t data_bytes_sent = 0;  // response DATA payload that left the server

    /// Value of the first header named `name`, or "".
    std::string Header(std::string_view name) const;
    /// Complete framed messages taken off `body` (payload bytes; the compressed flag in `flags`).
    std::vector<std::string> TakeMessages(std::vector<bool>* compressed_flags = nullptr);

    // Response-side bookkeeping (server thread).
    std::string pending;  // response bytes from pending_offset on are not yet with nghttp2
    size_t pending_offset = 0;
    bool response_started = false;
    bool trailers_pending = false;
    bool end_pending = false;
    codec::HeaderList trailers;
    bool data_deferred = false;
  };

  struct Options {
    /// SETTINGS_MAX_CONCURRENT_STREAMS to advertise; 0 advertises none.
    uint32_t max_concurrent_streams = 0;
    /// SETTINGS_INITIAL_WINDOW_SIZE for request bodies.
    uint32_t initial_window_size = 4 * 1024 * 1024;
    /// SETTINGS_MAX_HEADER_LIST_SIZE to advertise; 0 advertises none.
    uint32_t max_header_list_size = 0;
    /// false: never give flow-control window back (a peer that stops reading).
    bool return_window = true;
    /// Largest response DATA frame payload; 0 lets nghttp2 choose (up to 16 KiB).
    size_t max_data_frame = 0;
    /// Listen on "127.0.0.1" or "::1".
    std::string host = "127.0.0.1";
    /// 0 picks a free port.
    int port = 0;
  };

  using StreamCallback = std::function<void(Stream&)>;

  FakeServer();
  explicit FakeServer(Options options);
  ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  /// Set before the first connection arrives.
  StreamCallback on_headers;  // request headers complete
  StreamCallback on_data;     // request DATA arrived (body grew)
  StreamCallback on_end;      // the client half-closed
  StreamCallback on_close;    // the stream closed (either side)

  int port() const { return port_; }
  std::string target() const;

  // ---- Actions: server thread only (inside callbacks, or through Post). ----
  /// Response headers; `end_stream` makes them a Trailers-Only response.
  void SendHeaders(Stream& stream, codec::HeaderList headers, bool end_stream = false);
  /// Convenience: :status 200 + content-type application/grpc (+ extra).
  void SendOkHeaders(Stream& stream, codec::HeaderList extra = {});
  /// One framed message (prefix + payload).
  void SendMessage(Stream& stream, std::string_view payload, bool compressed_flag = false);
  /// Raw DATA bytes (may be a broken frame).
  void SendRaw(Stream& stream, std::string_view bytes);
  /// Trailers after all queued data.
  void SendTrailers(Stream& stream, codec::HeaderList trailers);
  /// END_STREAM on a DATA frame after the queued data: a response without trailers.
  void EndWithoutTrailers(Stream& stream);
  /// grpc-status (+ grpc-message verbatim) as trailers.
  void SendStatus(Stream& stream, int code, std::string_view message = {});
  void Reset(Stream& stream, uint32_t error_code);
  void Goaway(Connection& connection, uint32_t error_code, int32_t last_stream_id);
  /// Closes every connection's socket at once, without HTTP/2 goodbyes (RST on the wire).
  void DropConnections();
  /// Stops accepting (closes the listening socket); connected clients stay.
  void StopListening();

  // ---- Any thread. ----
  void Post(std::function<void()> action);
  void PostAfter(std::chrono::milliseconds delay, std::function<void()> action);
  /// Runs `action` on the server thread and waits for it (e.g. to swap callbacks safely).
  void RunOnServer(std::function<void()> action);
  /// Runs `read` under the server lock (records are written under it).
  template <class F>
  auto Locked(F&& read) {
    std::lock_guard<std::mutex> lock(mutex_);
    return read();
  }
  /// Stream ids in the order their HEADERS arrived (server lock).
  const std::vector<int32_t>& stream_ids_locked() const { return stream_ids_; }
  int connections_accepted() const { return connections_accepted_.load(); }
  int max_open_streams_seen() const { return max_open_streams_.load(); }
  size_t total_data_bytes_sent() const { return total_data_bytes_sent_.load(); }

 private:
  struct Timer {
    std::chrono::steady_clock::time_point when;
    std::function<void()> action;
  };

  void Run();
  void Accept();
  void HandleConnection(Connection& connection, short revents);
  void Pump(Connection& connection);
  void CloseConnection(Connection& connection);
  void RunPosted();
  void Resume(Stream& stream);

 public:
  // nghttp2 glue (public for the C callbacks in the .cc file).
  int OnBeginHeaders(Connection& connection, const nghttp2_frame* frame);
  int OnHeader(Connection& connection, const nghttp2_frame* frame, std::string_view name,
               std::string_view value);
  int OnFrameRecv(Connection& connection, const nghttp2_frame* frame);
  int OnDataChunk(Connection& connection, int32_t stream_id, const uint8_t* data, size_t length);
  int OnStreamClose(Connection& connection, int32_t stream_id, uint32_t error_code);
  int OnFrameSend(Connection& connection, const nghttp2_frame* frame);
  ssize_t OnRead(Connection& connection, int32_t stream_id, uint8_t* buf, size_t length,
                 uint32_t* data_flags);

 private:
  Options options_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;

  std::mutex mutex_;
  std::vector<std::function<void()>> posted_;
  std::vector<Timer> timers_;
  std::vector<int32_t> stream_ids_;

  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Stream>> streams_;
  std::atomic<int> connections_accepted_{0};
  std::atomic<int> open_streams_{0};
  std::atomic<int> max_open_streams_{0};
  std::atomic<size_t> total_data_bytes_sent_{0};
};

/// Frames one message (5-byte prefix + payload).
std::string Frame(std::string_view payload, bool compressed = false);

}  // namespace h2rpc::testing
