// ServerTransport: listeners, I/O threads and the nghttp2 server sessions of their connections.
//
// Threads: `io_threads` I/O threads, each running one EventLoop with the connections it was
// handed (round-robin by the accepting thread, which is I/O thread 0). Exactly one thread
// touches each socket and each nghttp2_session. The layer above (rpc) decides what a request
// means through ServerStreamHandler and runs handlers on its own threads; they talk back
// through ServerStream, i.e. the I/O thread's command queue.
//
// This header does not include nghttp2: rpc/ includes it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "codec/headers.h"
#include "codec/status.h"
#include "transport/buffer_pool.h"
#include "transport/keepalive_policy.h"
#include "transport/limits.h"
#include "transport/server_stream.h"
#include "transport/tls_context.h"
#include "transport/unix_address.h"

namespace h2rpc::transport {

/// How a routed call proceeds (or why it does not).
struct RouteResult {
  /// Not OK: the call ends with this status at once (Trailers-Only), no handler runs.
  Status status;
  /// Unary and server-streaming: dispatch the handler once the request is complete (message and
  /// END_STREAM, usually in the same read) so that it never waits for its one message.
  bool dispatch_at_end_of_stream = false;
  /// Unary and server-streaming: a second request message ends the call INTERNAL.
  bool single_request = false;
};

/// What the transport asks of the layer above. Every method runs on an I/O thread and must not
/// block.
class ServerStreamHandler {
 public:
  virtual ~ServerStreamHandler() = default;
  /// A new call's state (the layer above derives from ServerStream).
  virtual std::shared_ptr<ServerStream> NewStream() = 0;
  /// Called once a request header block is valid; may keep per-call data in `stream`.
  virtual RouteResult Route(ServerStream& stream) = 0;
  /// Starts the handler. False when no handler slot is free: the stream is then refused
  /// (RST_STREAM REFUSED_STREAM: nothing was processed, clients may retry).
  virtual bool Dispatch(const std::shared_ptr<ServerStream>& stream) = 0;
  /// True while every handler slot is taken: new streams are refused at their first HEADERS.
  virtual bool AtCapacity() const = 0;
};

struct ServerTransportOptions {
  uint32_t io_threads = 1;
  /// Advertised as SETTINGS_MAX_CONCURRENT_STREAMS; streams beyond it on one connection are
  /// refused with RST_STREAM(REFUSED_STREAM).
  uint32_t max_concurrent_streams = 256;
  uint32_t stream_window = 4 * 1024 * 1024;
  uint32_t connection_window = 16 * 1024 * 1024;
  uint32_t max_receive_message_size = 4 * 1024 * 1024;
  uint32_t stream_send_budget = 256 * 1024;
  /// A client must finish its TLS handshake (TLS ports) and send its HTTP/2 connection preface
  /// within this, or its connection is dropped (a client that connects and says nothing must
  /// not hold a connection forever).
  std::chrono::milliseconds handshake_timeout{10000};
  /// How long an I/O thread that just worked polls before it sleeps (EventLoop).
  std::chrono::microseconds poll_before_sleep{0};
  TransportLimits limits;
  ServerKeepaliveOptions keepalive;
};

/// Counters for tests and diagnostics (approximate while the server runs).
struct ServerTransportStats {
  int64_t connections = 0;        // open now
  int64_t connections_total = 0;  // accepted since start
  int64_t refused_streams = 0;    // RST_STREAM(REFUSED_STREAM) sent by us
};

class ServerIoThread;

class ServerTransport {
 public:
  ServerTransport(const ServerTransportOptions& options, ServerStreamHandler* handler);
  ~ServerTransport();  // Stop()s if still running
  ServerTransport(const ServerTransport&) = delete;
  ServerTransport& operator=(const ServerTransport&) = delete;

  /// Before Start(). Binds "host:port" / "[v6]:port" / ":port" / "unix:path" /
  /// "unix-abstract:name"; `port` receives the bound port (0 for a unix socket).
  /// `tls` (a server TlsContext) makes it a TLS port; null: plaintext.
  Status AddListener(const std::string& address, int* port,
                     std::shared_ptr<const TlsContext> tls = nullptr);
  /// Starts the I/O threads; connections are accepted from here on.
  void Start();

  /// Stops accepting; every connection gets a GOAWAY shutdown notice, then (after a PING
  /// round trip, or at `final_goaway_by` at the latest) the final GOAWAY naming the last stream
  /// it will process. Running calls continue.
  void BeginShutdown(std::chrono::steady_clock::time_point final_goaway_by);
  /// Every call that has not ended is ended with UNAVAILABLE in trailers and marked cancelled;
  /// new streams are refused.
  void CancelAll();
  /// Open connections (0 once every connection has closed after BeginShutdown).
  int64_t connection_count() const { return connections_.load(std::memory_order_acquire); }
  /// Closes every connection (cancelling its calls) and joins the I/O threads, then removes the
  /// unix socket files this transport bound (if still the same files). Idempotent.
  void Stop();

  ServerTransportStats stats() const;

  // ---- For the I/O threads ----
  const ServerTransportOptions& options() const { return options_; }
  ServerStreamHandler* handler() const { return handler_; }
  ServerIoThread* NextIoThread();
  std::chrono::steady_clock::time_point final_goaway_by() const {
    return std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(final_goaway_by_.load(std::memory_order_acquire)));
  }
  void OnConnectionOpened() {
    connections_.fetch_add(1, std::memory_order_acq_rel);
    connections_total_.fetch_add(1, std::memory_order_relaxed);
  }
  void OnConnectionClosed() { connections_.fetch_sub(1, std::memory_order_acq_rel); }
  void OnStreamRefused() { refused_streams_.fetch_add(1, std::memory_order_relaxed); }
  /// Large message buffers shared by every call of this server (see buffer_pool.h).
  const std::shared_ptr<BufferPool>& large_buffers() const { return large_buffers_; }
  /// The nghttp2 callback table shared by every session (read-only after construction).
  const void* callbacks() const { return callbacks_; }

 private:
  void PostAll(ServerCommandType type);

  ServerTransportOptions options_;
  ServerStreamHandler* handler_;
  void* callbacks_ = nullptr;  // nghttp2_session_callbacks*, kept opaque to spare rpc/ nghttp2.h
  struct Listener {
    int fd;
    std::shared_ptr<const TlsContext> tls;
  };
  std::vector<Listener> listen_fds_;
  std::vector<BoundSocketFile> socket_files_;  // unix socket paths to remove on Stop()
  std::vector<std::unique_ptr<ServerIoThread>> threads_;
  std::atomic<uint32_t> next_thread_{0};
  std::atomic<int64_t> final_goaway_by_{0};
  std::atomic<int64_t> connections_{0};
  std::atomic<int64_t> connections_total_{0};
  std::atomic<int64_t> refused_streams_{0};
  bool started_ = false;
  bool stopped_ = false;
  const std::shared_ptr<BufferPool> large_buffers_ = std::make_shared<BufferPool>();
};

}  // namespace h2rpc::transport
