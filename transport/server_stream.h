// ServerStream: the state of one server call shared by its I/O thread and its handler thread.
//
// Ownership: created by the layer above (rpc derives ServerCallState from it) when a request's
// HEADERS begin; the I/O thread keeps a reference while the HTTP/2 stream is open, the handler
// (ServerCall/ServerContext) keeps one while it runs. Whoever lets go last frees it.
//
// Threads:
//   * I/O-thread fields (prefixed io_) are touched only by the stream's I/O thread.
//   * Handler-thread fields (prefixed h_) are touched only by the handler (one reader thread
//     and one writer thread at most, as the concurrency contract allows).
//   * Fields the handler fills before it posts a command (response metadata, trailers) are
//     read by the I/O thread after it pops that command: the queue orders them.
//   * Everything else is atomic. No mutex anywhere on the call path.
//
// Handler → I/O: typed commands on the I/O thread's lock-free queue (send headers, send
// message, finish, consume) plus EventLoop::Wake(). I/O → handler: the inbound message queue
// and flags, with WaitWord (futex) wake-ups.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codec/framing.h"
#include "codec/headers.h"
#include "codec/status.h"
#include "transport/mpsc_queue.h"
#include "transport/payload_pieces.h"
#include "transport/peer_identity.h"
#include "transport/server_wait_word.h"

namespace h2rpc::transport {

class ServerConnection;
class ServerIoThread;
class ServerStream;
class TlsContext;

/// What a handler (or the transport itself) asks of an I/O thread.
enum class ServerCommandType : uint8_t {
  kSendHeaders,    // stream: response headers (initial metadata) are ready
  kSendMessage,    // stream + data: one length-prefixed message
  kFinish,         // stream (+ data: a held last message): trailers are ready
  kConsume,        // stream: the handler drained its messages; give the deferred window back
  kNewConnection,  // fd + data (peer string): an accepted socket for this I/O thread
  kBeginShutdown,  // GOAWAY (notice, then final) on every connection; listeners close
  kCancelAll,      // end every call that has not ended (UNAVAILABLE); refuse new ones
  kStop,           // close everything and leave the loop
};

/// A request message on its way to the handler: its bytes, or for a large uncompressed one the
/// pieces of the read slabs it arrived in (then `payload` is empty). Pieces are held by pointer:
/// the queue node of a small message stays as small as before they existed.
struct RequestMessage {
  std::string payload;
  std::unique_ptr<PayloadPieces> pieces;
  bool compressed = false;
  /// Prefix + payload: what it counts against the stream's window.
  size_t wire_size() const {
    return codec::kFramePrefixSize + (pieces ? PiecesSize(*pieces) : payload.size());
  }
};

struct ServerCommand {
  ServerCommandType type;
  int fd = -1;
  std::shared_ptr<ServerStream> stream;
  std::shared_ptr<const std::string> data;
  /// kNewConnection on a TLS listener: the listener's credentials.
  std::shared_ptr<const TlsContext> tls;
};

class ServerStream : public std::enable_shared_from_this<ServerStream> {
 public:
  ServerStream() = default;
  virtual ~ServerStream();
  ServerStream(const ServerStream&) = delete;
  ServerStream& operator=(const ServerStream&) = delete;

  // ---- The request (written by the I/O thread before dispatch, read-only afterwards) ----

  const codec::RequestHead& head() const { return head_; }
  int32_t stream_id() const { return stream_id_; }
  /// "ipv4:127.0.0.1:54321" / "ipv6:[::1]:54321".
  const std::string& peer() const { return *peer_; }
  /// The client's TLS identity; null on a plaintext connection. Set before the handler runs.
  const PeerIdentity* peer_identity() const { return peer_identity_.get(); }
  /// The client's deadline; system_clock::time_point::max() without grpc-timeout.
  std::chrono::system_clock::time_point deadline() const { return system_deadline_; }

  // ---- Handler thread ----

  /// Next request message (payload still compressed if its flag says so). Blocks; false once
  /// the client half-closed and every message was taken, or when the call is over.
  bool Read(RequestMessage* message);
  /// Queues one length-prefixed message. Blocks while more than the stream's send budget is
  /// queued and not yet framed by nghttp2 (a slow reader cannot grow our memory); false if the
  /// call is over. With `may_hold`, the first message of a single-response call is kept until
  /// Finish() so that headers, message and trailers leave in one write.
  bool Write(std::shared_ptr<const std::string> framed, bool may_hold);
  /// Sends the response headers now (they otherwise go with the first message or the status).
  bool SendHeaders();
  /// Ends the call: trailers with `status` and `trailing_metadata` (wire form). False if the call
  /// was already over (cancelled, failed by the transport, or finished).
  bool Finish(const Status& status, const codec::HeaderList& trailing_metadata);
  /// True once the client cancelled, the deadline passed, the connection died, the server
  /// cancelled it at shutdown, or the transport failed it (e.g. a request message too large).
  bool IsCancelled() const { return cancelled_.load(std::memory_order_acquire); }
  /// True once no more messages can be sent (finished, failed or cancelled).
  bool IsDone() const { return done_.load(std::memory_order_acquire); }
  /// Runs `callback` once when the call is cancelled, on the I/O thread (so it must be short
  /// and must not block), or at once on this thread if it already is. Replaces an earlier one.
  void SetCancelCallback(std::function<void()> callback);
  /// True once the handler asked for the response headers to go (first message, SendHeaders
  /// or Finish); initial metadata added later cannot be sent.
  bool headers_requested() const { return h_headers_requested_; }

  /// Initial metadata in wire form (-bin values base64), filled by the handler before the
  /// headers are requested.
  codec::HeaderList& response_metadata() { return response_metadata_; }
  /// grpc-encoding of the response (static storage, e.g. CompressionName()); empty = identity.
  void set_response_encoding(std::string_view name) { response_encoding_ = name; }

 private:
  friend class ServerConnection;
  friend class ServerIoThread;

  bool Enqueue(std::shared_ptr<const std::string> framed);
  void Post(ServerCommandType type, std::shared_ptr<const std::string> data = nullptr);
  /// Builds trailers_ (grpc-status, grpc-message, details, metadata). Called by whoever ends
  /// the call (the winner of done_).
  void BuildTrailers(const Status& status, const codec::HeaderList* trailing_metadata);
  /// Wakes a reader and a writer blocked on this call.
  void WakeAll();
  /// I/O thread, once cancelled_ is set: runs the cancel callback, if any, once.
  void FireCancelCallback();

  // Set once by the I/O thread before dispatch.
  codec::RequestHead head_;
  int32_t stream_id_ = 0;
  std::shared_ptr<const std::string> peer_;
  std::shared_ptr<const PeerIdentity> peer_identity_;
  std::chrono::system_clock::time_point system_deadline_ =
      std::chrono::system_clock::time_point::max();
  ServerIoThread* io_ = nullptr;
  uint32_t send_budget_ = 0;
  size_t consume_threshold_ = 0;

  // Shared (atomics and the inbound queue).
  MpscQueue<RequestMessage> inbox_;          // I/O thread pushes, the handler pops
  std::atomic<int64_t> inbox_bytes_{0};      // framed bytes in inbox_ not yet taken
  std::atomic<bool> consume_wanted_{false};  // I/O deferred window; reader posts kConsume
  std::atomic<bool> recv_closed_{false};     // END_STREAM seen and every message pushed
  std::atomic<bool> done_{false};            // the call's outcome is decided (first writer wins)
  std::atomic<bool> cancelled_{false};
  std::atomic<int64_t> send_queued_{0};  // bytes posted by Write and not yet framed
  WaitWord recv_word_;
  WaitWord send_word_;

  // Handler thread.
  std::shared_ptr<const std::string> h_held_;
  bool h_headers_requested_ = false;
  bool h_sent_message_ = false;

  // Written by the handler before a command (or by the I/O thread when it ends the call itself);
  // read by the I/O thread afterwards.
  codec::HeaderList response_metadata_;
  std::string_view response_encoding_;
  codec::HeaderList trailers_;

  // I/O thread.
  ServerConnection* io_conn_ = nullptr;    // null once the stream is detached
  std::shared_ptr<ServerStream> io_self_;  // the I/O thread's reference while attached
  ServerStream* io_prev_ = nullptr;        // the connection's list of streams
  ServerStream* io_next_ = nullptr;
  std::chrono::steady_clock::time_point io_deadline_;
  size_t io_deadline_index_ = std::numeric_limits<size_t>::max();  // in the deadline heap
  size_t io_header_bytes_ = 0;  // size of the block being received (name+value+32)
  bool io_header_overflow_ = false;
  bool io_routed_ = false;           // headers validated and a handler found
  bool io_dispatch_at_end_ = false;  // unary/server-streaming: run once the request is complete
  bool io_single_request_ = false;   // a second request message is a protocol violation
  bool io_dispatched_ = false;
  bool io_remote_closed_ = false;  // client sent END_STREAM
  bool io_headers_submitted_ = false;
  bool io_data_attached_ = false;    // our data provider is attached to the nghttp2 stream
  bool io_data_deferred_ = false;    // ... and waits for nghttp2_session_resume_data
  bool io_finish_ready_ = false;     // trailers_ are final; send them once the outbox drains
  bool io_end_submitted_ = false;    // END_STREAM or RST_STREAM submitted: nothing more to send
  bool io_end_sent_ = false;         // our END_STREAM frame left (the response is complete)
  bool io_end_grace_armed_ = false;  // ended early: the next expiry resets the stream
  // A handler set a cancel callback (kept in a side table, see server_stream.cc: this object
  // must stay within malloc's per-thread cache, and such callbacks are rare).
  std::atomic<bool> has_cancel_callback_{false};
  uint32_t io_messages_received_ = 0;
  size_t io_deferred_consume_ = 0;  // stream-level window bytes withheld from the client
  std::optional<codec::Deframer> io_deframer_;
  // The large message being received, as pieces (made on the first one: most calls never
  // receive a message that large, and this object must stay within malloc's per-thread cache).
  std::unique_ptr<PayloadAssembly> io_assembly_;
  // Messages waiting for nghttp2 to frame them (no-copy DATA references into them).
  std::vector<std::shared_ptr<const std::string>> io_outbox_;
  size_t io_outbox_head_ = 0;      // first message not completely framed
  size_t io_outbox_offset_ = 0;    // bytes of that message already framed
  size_t io_outbox_bytes_ = 0;     // unframed bytes in the outbox
  size_t io_outbox_promised_ = 0;  // of those, bytes OnReadData gave to a DATA frame not yet sent
  uint16_t io_http_status_ = 200;  // :status of the answer (405, 415 ... for non-gRPC requests)
};

}  // namespace h2rpc::transport
