// Internal to transport/: one server I/O thread and the connections (nghttp2 server sessions)
// it runs. Only server_transport.cc, server_connection.cc and server_stream.cc include this.
#pragma once

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "codec/idle_reset_filter.h"
#include "codec/status.h"
#include "transport/event_loop.h"
#include "transport/link.h"
#include "transport/mpsc_queue.h"
#include "transport/output_buffer.h"
#include "transport/payload_pieces.h"
#include "transport/server_keepalive.h"
#include "transport/server_stream.h"
#include "transport/server_transport.h"
#include "transport/session_allocator.h"

namespace h2rpc::transport {

class ServerConnection;

/// One I/O thread: an EventLoop, its command queue, its connections and its call deadlines.
class ServerIoThread {
 public:
  explicit ServerIoThread(ServerTransport* transport);
  ~ServerIoThread();

  /// Any thread: queue a command and wake the loop.
  void Post(ServerCommand command) {
    queue_.Push(std::move(command));
    loop_.Wake();
  }

  void Start();
  void Join();

  // ---- I/O thread only ----
  EventLoop& loop() { return loop_; }
  ServerTransport* transport() const { return transport_; }
  /// Adds a listening socket (I/O thread 0; also before Start()); `tls` null: plaintext.
  void AddListener(int fd, std::shared_ptr<const TlsContext> tls);
  /// Takes an accepted socket.
  void AddConnection(int fd, std::shared_ptr<const std::string> peer,
                     std::shared_ptr<const TlsContext> tls);
  /// The connection has work to send: flushed once per loop iteration, after the commands.
  void MarkDirty(ServerConnection* conn);
  /// A closed connection is freed after the current iteration (it may be on the call stack).
  void RetireConnection(uint64_t id);
  /// Takes the socket of a connection that ended in good order, all our bytes written: sends
  /// FIN, discards what the client still sends, and closes at its EOF; sooner once the client
  /// has all our bytes and sends nothing for kLingerQuiet, after kLingerMax in any case, or
  /// past the connection window we granted plus kLingerBytesBeyondWindow. The connection counts
  /// as open until then.
  void Linger(int fd);
  /// A detached stream is released after the current iteration (never inside nghttp2).
  void RetireStream(std::shared_ptr<ServerStream> stream) {
    stream_graveyard_.push_back(std::move(stream));
  }
  void AddDeadline(ServerStream* stream);
  void RemoveDeadline(ServerStream* stream);
  /// Where socket reads go (one per thread, slabs of limits.read_chunk bytes): large request
  /// messages keep pieces of it.
  ReadSlab& read_slab() { return read_slab_; }
  bool cancelling_all() const { return cancel_all_; }
  bool shutting_down() const { return shutting_down_; }

 private:
  void Run();
  void HandleCommand(ServerCommand& command);
  void AcceptAll(int listen_fd, const std::shared_ptr<const TlsContext>& tls);
  void ExpireDeadlines();
  void DrainLingering(int fd);
  void OnLingerTimer(int fd);
  void EndLinger(int fd);
  std::chrono::milliseconds NextWait() const;
  void HeapSwap(size_t a, size_t b);
  void HeapUp(size_t i);
  void HeapDown(size_t i);

  ServerTransport* transport_;
  EventLoop loop_;
  MpscQueue<ServerCommand> queue_;
  std::thread thread_;
  bool stop_ = false;
  bool shutting_down_ = false;
  bool cancel_all_ = false;
  uint64_t next_connection_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<ServerConnection>> connections_;
  std::vector<std::unique_ptr<ServerConnection>> dead_connections_;
  std::vector<ServerConnection*> dirty_;
  std::vector<std::shared_ptr<ServerStream>> stream_graveyard_;
  std::vector<ServerStream*> deadlines_;  // binary min-heap on io_deadline_
  std::vector<int> listeners_;
  struct Lingering {
    EventLoop::TimerId timer = 0;
    std::chrono::steady_clock::time_point until;  // kLingerMax after it began
    size_t discarded = 0;
    size_t discarded_at_last_timer = 0;
  };
  std::unordered_map<int, Lingering> lingering_;  // by socket
  ReadSlab read_slab_;
};

/// One accepted connection: its socket, its nghttp2 server session and its calls.
class ServerConnection {
 public:
  ServerConnection(ServerIoThread* io, uint64_t id, int fd, std::shared_ptr<const std::string> peer,
                   std::shared_ptr<const TlsContext> tls);
  ~ServerConnection();
  ServerConnection(const ServerConnection&) = delete;
  ServerConnection& operator=(const ServerConnection&) = delete;

  /// Plaintext: StartSession(). TLS: the handshake first, then StartSession(). Either way the
  /// client's HTTP/2 preface must arrive within handshake_timeout of this (TLS handshake
  /// included). False if that failed at once (then Close()).
  bool Start();
  uint64_t id() const { return id_; }
  bool closed() const { return closed_; }

  /// Socket readiness.
  void OnSocketEvent(uint32_t events);
  /// Lets nghttp2 produce frames and writes them; closes the connection when it is finished.
  void Pump();
  /// A command for one of this connection's streams.
  void OnStreamCommand(ServerCommand& command);
  void OnDeadline(ServerStream* stream);
  void BeginShutdown();
  /// Shutdown notice and PING now; the final GOAWAY (NO_ERROR, `debug`) follows the ACK of a
  /// second PING sent at the first one's ACK, or comes at `final_by`. Running calls continue.
  /// Once per connection.
  void BeginGracefulGoaway(std::chrono::steady_clock::time_point final_by, const char* debug);
  void SendFinalGoaway();
  /// Submits GOAWAY(last stream processed, `error_code`, `debug`); from then on a new stream
  /// above that id is refused, never processed (the client may retry it elsewhere).
  void SubmitFinalGoaway(uint32_t error_code, std::string_view debug);
  void CancelAll();
  /// Final GOAWAY (if not sent yet), and every call still running ends with `status`; the
  /// connection closes in good order once their statuses are out (a client that takes none
  /// is the caller's to cut off).
  void EndRunningCalls(const Status& status);
  /// Cancels every call, frees the session, closes the socket. Idempotent. `linger`: the
  /// connection ended in good order, our bytes are out; the socket lingers
  /// (ServerIoThread::Linger).
  void Close(bool linger = false);
  /// The server stops: resets every call whose END_STREAM has not left, gives those frames one
  /// chance to go, then Close().
  void ResetCallsAndClose();
  /// What nghttp2 has queued (a GOAWAY, resets) gets one non-blocking chance to leave; then
  /// Close().
  void SendQueuedAndClose();

  // ---- nghttp2 callbacks (each forwarded from a free function) ----
  ssize_t OnSend(const uint8_t* data, size_t length);
  int OnSendData(nghttp2_frame* frame, const uint8_t* framehd, size_t length,
                 nghttp2_data_source* source);
  ssize_t OnReadData(int32_t stream_id, size_t length, uint32_t* data_flags,
                     nghttp2_data_source* source);
  int OnBeginHeaders(const nghttp2_frame* frame);
  int OnHeader(const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
               const uint8_t* value, size_t valuelen);
  int OnFrameRecv(const nghttp2_frame* frame);
  int OnDataChunk(uint8_t flags, int32_t stream_id, const uint8_t* data, size_t len);
  int OnStreamClose(int32_t stream_id, uint32_t error_code);
  int OnFrameSend(const nghttp2_frame* frame);

 private:
  ServerStream* StreamFor(int32_t stream_id);
  void Attach(const std::shared_ptr<ServerStream>& stream);
  void Detach(ServerStream* stream);
  void Refuse(int32_t stream_id);
  void OnRequestHeaders(ServerStream* stream);
  void OnRemoteEnd(ServerStream* stream);
  void Dispatch(ServerStream* stream);
  void Deliver(ServerStream* stream, const uint8_t* data, size_t len);
  // The deframer's hooks; their context is the ServerStream.
  static std::string TakeMessageBuffer(void* stream);
  static void TakePayloadPiece(void* stream, const uint8_t* data, size_t size);
  static constexpr codec::Deframer::Hooks kDeframerHooks{&TakeMessageBuffer, &TakePayloadPiece};
  void GiveBackWindow(ServerStream* stream, size_t len);
  void ReleaseDeferredWindow(ServerStream* stream);
  /// Ends the call with `status` from the I/O thread (the handler, if any, sees the call over).
  /// `http_status` other than 200 answers a request that is not gRPC.
  void EndWithStatus(ServerStream* stream, const Status& status, int http_status = 200);
  /// Claims the call's outcome from its handler (false if the handler or an earlier end won);
  /// the handler then sees IsCancelled() and Read/Write return false.
  bool TakeOverCall(ServerStream* stream);
  /// Sends `status` as the call's trailers once what is queued before them has gone.
  void SubmitStatus(ServerStream* stream, const Status& status, int http_status);
  /// Ends a call the server gives up on (deadline, shutdown) with `status` in trailers.
  void EndEarly(ServerStream* stream, const Status& status);
  /// Forgets response messages not yet framed (the call ended before they went out).
  void DropUnframedMessages(ServerStream* stream);
  void Reset(ServerStream* stream, uint32_t error_code);
  void MarkCancelled(ServerStream* stream);
  void SubmitResponseHeaders(ServerStream* stream);
  void SubmitEnd(ServerStream* stream, bool include_initial_metadata);
  void AppendMessage(ServerStream* stream, std::shared_ptr<const std::string> framed);
  void ResumeData(ServerStream* stream);
  void UpdateInterest();
  bool ReadingAllowed() const;
  /// Creates the session and queues our SETTINGS. False if nghttp2 failed (then Close()).
  bool StartSession();
  void ContinueTlsHandshake();
  void SetHandshakeDeadline(std::chrono::steady_clock::time_point when);
  void Fail(const char* what, int rv);

  ServerIoThread* io_;
  ServerTransport* transport_;
  const ServerTransportOptions& options_;
  uint64_t id_;
  int fd_;
  std::shared_ptr<const std::string> peer_;
  std::shared_ptr<const TlsContext> tls_;
  Link link_;
  // Between the socket and nghttp2: gRPC's C core resets streams it never opened (see the header).
  codec::IdleResetFilter idle_resets_;
  std::shared_ptr<const PeerIdentity> peer_identity_;  // TLS: set once the handshake is done
  EventLoop::TimerId handshake_timer_ = 0;
  bool preface_received_ = false;       // the client's first SETTINGS frame came
  SessionAllocator session_allocator_;  // outlives session_
  nghttp2_session* session_ = nullptr;
  OutputBuffer output_;
  uint32_t interest_ = 0;  // epoll mask currently registered
  bool registered_ = false;
  bool closed_ = false;
  bool dirty_ = false;
  bool settings_patch_pending_ = false;
  bool final_goaway_sent_ = false;
  // The second shutdown PING's ACK arrived: the final GOAWAY goes out before the next write,
  // once the streams read with the ACK are processed too.
  bool final_goaway_due_ = false;
  int32_t final_goaway_last_id_ = 0;    // the last stream id our final GOAWAY names
  bool final_goaway_graceful_ = false;  // ... and it said NO_ERROR (shutdown, idle, age)
  bool shutdown_notice_sent_ = false;
  EventLoop::TimerId goaway_timer_ = 0;
  const char* goaway_debug_ = "";  // final GOAWAY's debug data: why the connection ends
  std::unique_ptr<ServerKeepalive> keepalive_;
  ServerStream* streams_ = nullptr;  // intrusive list of attached streams
  size_t stream_count_ = 0;
  std::vector<nghttp2_nv> nv_scratch_;
  // The request header block being received. Header blocks never interleave (CONTINUATION
  // frames must follow their HEADERS), so one buffer per connection serves every stream, and
  // its strings keep their capacity from one request to the next: no allocation per header.
  codec::HeaderList header_block_;
  size_t header_fields_ = 0;

  friend class ServerIoThread;
  friend class ServerKeepalive;
};

}  // namespace h2rpc::transport
