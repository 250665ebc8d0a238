// The client I/O thread: connections, nghttp2 client sessions, commands, deadlines, backoff.
//
// Everything in this file except ClientCommandQueue::Submit/Close and the ClientTransport
// constructor/destructor/Start runs on the I/O thread.
//
// Connection life cycle (one "current" connection, plus draining ones after a GOAWAY):
//   kConnecting  resolving and TCP-connecting, address after address
//   kTlsHandshaking  TCP is up, the TLS handshake (ALPN h2, certificate checks) is under way
//   kHandshaking TCP is up, our preface + SETTINGS are out, waiting for the server's SETTINGS
//   kReady       streams may be opened (up to the server's MAX_CONCURRENT_STREAMS)
//   kDraining    GOAWAY received: open streams finish, new calls go to a new connection;
//                streams above its last_stream_id were never processed and start again on
//                the new connection when nothing they sent is lost (RetryUnprocessed)
//   kFailed      being torn down at the end of this loop iteration (never inside a callback)
// A connection that fails before kReady is a failed connection attempt: the calls waiting for
// it end UNAVAILABLE and the channel backs off (gRPC connection-backoff.md); calls arriving
// during the backoff fail fast, the first call after it tries again. A connection that was
// ready and then breaks fails only its open calls; the next call reconnects at once. With
// keepalive on, a ready connection that reads nothing for keepalive_time gets a PING, and one
// that stays silent for keepalive_timeout after it breaks (UNAVAILABLE) the same way.

#include "transport/client_transport.h"

#include <arpa/inet.h>
#include <nghttp2/nghttp2.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "codec/compression.h"
#include "codec/headers.h"
#include "codec/metadata.h"
#include "codec/status_mapping.h"
#include "codec/timeout.h"
#include "transport/address.h"
#include "transport/link.h"
#include "transport/output_buffer.h"
#include "transport/session_allocator.h"
#include "transport/session_options.h"

namespace h2rpc::transport {

namespace {

using Clock = std::chrono::steady_clock;

/// How long the loop sleeps with nothing to do; timers and wake-ups cut it short.
constexpr std::chrono::milliseconds kIdleWait{1000};
/// Socket reads per readiness event before other work gets a turn (×64 KiB).
constexpr int kMaxReadsPerEvent = 16;
/// Produce/flush rounds per connection per loop iteration (×max_pending_output).
constexpr int kMaxPumpRounds = 16;

Status Unavailable(std::string message) {
  return Status(StatusCode::kUnavailable, std::move(message));
}

std::string ErrnoText(int err) { return std::strerror(err); }

/// Numeric addresses and "localhost" resolve without DNS, fast enough for the I/O thread.
bool ResolvesLocally(const std::string& host) {
  if (host == "localhost") return true;
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

/// Received -bin values decoded (comma-separated elements split), others as they came.
Status DecodeMetadata(const codec::HeaderList& headers, Metadata* out) {
  for (const auto& [key, value] : headers) {
    if (codec::IsBinaryKey(key)) {
      StatusOr<std::vector<std::string>> values = codec::DecodeBinaryHeader(value);
      if (!values.ok()) {
        return Status(StatusCode::kInternal, "bad base64 in response metadata \"" + key +
                                                 "\": " + values.status().message());
      }
      for (std::string& v : *values) out->emplace(key, std::move(v));
    } else {
      out->emplace(key, value);
    }
  }
  return Status();
}

nghttp2_nv MakeNv(std::string_view name, std::string_view value) {
  // NO_COPY: every name and value outlives the HEADERS frame (literals, the transport's
  // authority/user-agent, or the stream's own setup and io fields).
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
}

/// Per-call bound on messages kept for a transparent retry (gRPC's retry buffer; its default is
/// 256 KiB, kept small here for constrained programs: only calls cut off by a GOAWAY or a
/// REFUSED_STREAM right after their first messages need it).
constexpr size_t kReplayLimit = 64 * 1024;

void ForgetReplay(ClientStreamState::IoState& io) {
  io.replay.clear();
  io.replay_bytes = 0;
}

/// A message left whole: keep it until the response headers commit the call.
void KeepForReplay(ClientStreamState::IoState& io, OutgoingMessages::Message message) {
  if (io.got_response_headers || io.replay_overflowed) return;
  io.replay_bytes += message->size();
  if (io.replay_bytes > kReplayLimit) {
    io.replay_overflowed = true;
    ForgetReplay(io);
    return;
  }
  io.replay.push_back(std::move(message));
}

/// Stops sending on a stream that is still open in nghttp2. Bytes nghttp2 already reserved for
/// a packed DATA frame stay: that frame's header is written, so its payload must follow.
void DropQueuedMessages(ClientStreamState::IoState& io) {
  size_t keep = io.front_offset + io.reserved_bytes;
  size_t kept_messages = 0;
  for (const auto& message : io.outgoing) {
    if (keep == 0) break;
    keep -= std::min(keep, message->size());
    ++kept_messages;
  }
  io.outgoing.truncate(kept_messages);
  io.outgoing_bytes = 0;
}

/// Forgets everything queued once nghttp2 no longer knows the stream (or never did). Also
/// breaks the cycle a unary request makes (it is an aliasing pointer to the state itself).
void ReleaseQueuedMessages(ClientStreamState::IoState& io) {
  io.outgoing.clear();
  io.outgoing_bytes = 0;
  io.reserved_bytes = 0;
  io.front_offset = 0;
  ForgetReplay(io);
}

}  // namespace

class ClientTransportImpl;

/// One TCP connection and its nghttp2 client session.
class ClientConnection {
 public:
  enum class State { kConnecting, kTlsHandshaking, kHandshaking, kReady, kDraining, kFailed };

  explicit ClientConnection(ClientTransportImpl& owner) : owner_(owner) {}
  ~ClientConnection();
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  // nghttp2 callback targets (see the free functions below).
  ssize_t OnSend(const uint8_t* data, size_t length);
  int OnSendData(nghttp2_frame* frame, const uint8_t* frame_header, size_t length,
                 nghttp2_data_source* source);
  ssize_t OnReadData(uint8_t* buf, size_t length, uint32_t* data_flags,
                     nghttp2_data_source* source);
  int OnBeginHeaders(const nghttp2_frame* frame);
  int OnHeader(const nghttp2_frame* frame, std::string_view name, std::string_view value);
  int OnFrameRecv(const nghttp2_frame* frame);
  int OnDataChunkRecv(int32_t stream_id, const uint8_t* data, size_t length);
  int OnStreamClose(int32_t stream_id, uint32_t error_code);
  int OnFrameNotSend(const nghttp2_frame* frame, int library_error);

 private:
  friend class ClientTransportImpl;

  ClientStreamState* StreamFor(int32_t stream_id);
  void Link(ClientStreamState* stream);
  void Unlink(ClientStreamState* stream);
  void HandleResponseHeaders(ClientStreamState& stream, bool end_stream);
  void HandleTrailers(ClientStreamState& stream);
  void DeliverMessages(ClientStreamState& stream, const uint8_t* data, size_t length);
  // The deframer's hooks; their context is the ClientStreamState.
  static std::string TakeMessageBuffer(void* stream);
  static void TakePayloadPiece(void* stream, const uint8_t* data, size_t size);
  static constexpr codec::Deframer::Hooks kDeframerHooks{&TakeMessageBuffer, &TakePayloadPiece};
  /// Our side is still open while the server finished: stop sending (PROTOCOL-HTTP2.md).
  void CloseLocalSide(ClientStreamState& stream);
  void GiveBackWindow(ClientStreamState& stream);
  std::string Describe() const;

  ClientTransportImpl& owner_;
  State state_ = State::kConnecting;
  int fd_ = -1;
  transport::Link link_;  // the socket's byte path (plain, or TLS over fd_)
  uint32_t epoll_events_ = 0;
  SessionAllocator session_allocator_;  // outlives session_
  SessionPtr session_;
  OutputBuffer output_;
  std::vector<SocketAddress> addresses_;
  size_t next_address_ = 0;
  bool awaiting_resolution_ = false;
  Status last_connect_error_;
  std::string peer_;
  Clock::time_point attempt_started_;
  EventLoop::TimerId connect_timer_ = 0;
  bool ever_ready_ = false;
  Status failure_;
  // Open streams (intrusive list through ClientStreamState::io).
  ClientStreamState* open_head_ = nullptr;
  size_t open_count_ = 0;
  // The header block being received. HTTP/2 never interleaves header blocks (HEADERS and its
  // CONTINUATIONs are contiguous), so one list per connection serves every stream and keeps
  // its capacity from call to call.
  codec::HeaderList header_block_;
  size_t header_block_bytes_ = 0;
  // Keepalive (only when enabled): when to PING and when silence means the server is gone.
  std::optional<KeepalivePinger> keepalive_;
  EventLoop::TimerId keepalive_timer_ = 0;
  bool goaway_received_ = false;
  int32_t goaway_last_stream_id_ = 0;
  uint32_t goaway_error_ = 0;
  std::string goaway_debug_;
};

/// The I/O thread's world. Owned by ClientTransport; runs on its thread.
class ClientTransportImpl {
 public:
  ClientTransportImpl(std::string target, ClientTransportOptions options, ClientCommandQueue& queue,
                      ConnectivityWatch& connectivity);
  ~ClientTransportImpl();

  void Run();
  /// Any thread.
  void RequestShutdown() {
    shutdown_requested_.store(true, std::memory_order_release);
    queue_.loop().Wake();
  }

 private:
  friend class ClientConnection;

  // Commands.
  void DrainCommands();
  void HandleStart(std::shared_ptr<ClientStreamState> stream);
  void HandleSend(ClientStreamState& stream, std::shared_ptr<const std::string> message);
  void HandleHalfClose(ClientStreamState& stream);
  void HandleConsume(ClientStreamState& stream);
  void HandleResolved();

  // Calls.
  void FinishStream(ClientStreamState& stream, Status status, bool drop_unread);
  /// Queues the caller's wake-up for the end of the current batch (FlushWakes).
  void WakeLater(ClientStreamState& stream);
  void FlushWakes();
  /// Ends the call locally and, if it is on the wire, resets the stream with `http2_error`.
  void AbortStream(ClientStreamState& stream, Status status, uint32_t http2_error);
  void ResumeData(ClientStreamState& stream);
  void OnDeadline(ClientStreamState& stream);
  void ServeWaiting();
  void OpenWaitingStreams();
  /// Fails the waiting calls, except those that wait for ready: they stay, in order.
  void FailWaiting(const Status& status);
  /// Someone waits for a connection during a backoff: connect again when it ends.
  void ArmReconnect();
  void PublishConnectivity();
  void SubmitStream(ClientConnection& connection, std::shared_ptr<ClientStreamState> stream);

  // Connections.
  void StartConnecting();
  void OnResolved(ClientConnection& connection, StatusOr<std::vector<SocketAddress>> addresses);
  void TryNextAddress(ClientConnection& connection);
  void OnSocketEvent(ClientConnection& connection, uint32_t events);
  void OnConnected(ClientConnection& connection);
  void StartTls(ClientConnection& connection);
  void ContinueTlsHandshake(ClientConnection& connection);
  void OnServerSettings(ClientConnection& connection);
  void OnGoaway(ClientConnection& connection);
  void StartKeepalive(ClientConnection& connection);
  void OnKeepaliveTimer(ClientConnection& connection);
  /// A call the server never processed (GOAWAY) goes back to the waiting calls if nothing is
  /// lost by sending it again. False: it must fail instead.
  bool RetryUnprocessed(std::shared_ptr<ClientStreamState>& stream_ref);
  void ReadSocket(ClientConnection& connection);
  void Pump(ClientConnection& connection);
  void UpdateInterest(ClientConnection& connection);
  /// Marks the connection failed; it is torn down by ReapConnections (never inside callbacks).
  void FailConnection(ClientConnection& connection, Status status);
  void ReapConnections();
  void CloseConnection(ClientConnection& connection, const Status& status);
  void OnConnectAttemptFailed(const ClientConnection& connection, const Status& status);
  Status BackoffStatus() const;
  void ShutdownAll();

  const std::string target_;
  const ClientTransportOptions options_;
  ClientCommandQueue& queue_;
  ConnectivityWatch& connectivity_;
  EventLoop& loop_;
  StatusOr<HostPort> host_port_;
  CallbacksPtr callbacks_;
  SessionOptionPtr session_options_;
  std::vector<nghttp2_settings_entry> settings_;
  std::string authority_;
  std::atomic<bool> shutdown_requested_{false};
  /// The keepalive interval of new connections: doubled by each GOAWAY "too_many_pings".
  std::chrono::milliseconds keepalive_time_;

  std::unique_ptr<ClientConnection> current_;
  std::vector<std::unique_ptr<ClientConnection>> draining_;
  /// Calls waiting for a connection or for a stream slot, in arrival order. Calls that ended
  /// while waiting stay until they reach the front (phase kDone) and are skipped then.
  std::deque<std::shared_ptr<ClientStreamState>> waiting_;
  /// Set when something happened that needs another pass before the loop may sleep.
  bool more_work_ = false;
  /// A kConnect came: connect (through backoffs) even though no call waits, until ready.
  bool connect_wanted_ = false;
  EventLoop::TimerId reconnect_timer_ = 0;

  // Connection backoff (connection-backoff.md).
  std::chrono::milliseconds backoff_{0};  // 0: no failed attempt since the last success
  Clock::time_point backoff_until_{};
  Status last_connect_failure_;
  std::mt19937_64 random_{std::random_device{}()};

  // The resolver helper thread, for names that need DNS.
  std::thread resolver_thread_;
  bool resolver_running_ = false;
  std::mutex resolver_mutex_;  // guards resolver_result_ (cold path, once per resolution)
  std::optional<StatusOr<std::vector<SocketAddress>>> resolver_result_;

  std::vector<std::shared_ptr<ClientStreamState>> to_wake_;
  ReadSlab read_slab_;  // socket reads of every connection (large payloads keep pieces of it)
  std::vector<nghttp2_nv> nv_scratch_;
};

// ---------------------------------------------------------------------------------------------
// nghttp2 callbacks: thin forwarding functions.

namespace {

ClientConnection& ConnectionOf(void* user_data) {
  return *static_cast<ClientConnection*>(user_data);
}

ssize_t SendCallback(nghttp2_session*, const uint8_t* data, size_t length, int, void* user_data) {
  return ConnectionOf(user_data).OnSend(data, length);
}

int SendDataCallback(nghttp2_session*, nghttp2_frame* frame, const uint8_t* frame_header,
                     size_t length, nghttp2_data_source* source, void* user_data) {
  return ConnectionOf(user_data).OnSendData(frame, frame_header, length, source);
}

ssize_t ReadDataCallback(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                         uint32_t* data_flags, nghttp2_data_source* source, void* user_data) {
  return ConnectionOf(user_data).OnReadData(buf, length, data_flags, source);
}

int BeginHeadersCallback(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  return ConnectionOf(user_data).OnBeginHeaders(frame);
}

int HeaderCallback(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                   size_t name_length, const uint8_t* value, size_t value_length, uint8_t,
                   void* user_data) {
  return ConnectionOf(user_data).OnHeader(
      frame, std::string_view(reinterpret_cast<const char*>(name), name_length),
      std::string_view(reinterpret_cast<const char*>(value), value_length));
}

int FrameRecvCallback(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  return ConnectionOf(user_data).OnFrameRecv(frame);
}

int DataChunkRecvCallback(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                          size_t length, void* user_data) {
  return ConnectionOf(user_data).OnDataChunkRecv(stream_id, data, length);
}

int StreamCloseCallback(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
  return ConnectionOf(user_data).OnStreamClose(stream_id, error_code);
}

int FrameNotSendCallback(nghttp2_session*, const nghttp2_frame* frame, int library_error,
                         void* user_data) {
  return ConnectionOf(user_data).OnFrameNotSend(frame, library_error);
}

CallbacksPtr MakeCallbacks() {
  nghttp2_session_callbacks* raw = nullptr;
  nghttp2_session_callbacks_new(&raw);
  nghttp2_session_callbacks_set_send_callback(raw, SendCallback);
  nghttp2_session_callbacks_set_send_data_callback(raw, SendDataCallback);
  nghttp2_session_callbacks_set_on_begin_headers_callback(raw, BeginHeadersCallback);
  nghttp2_session_callbacks_set_on_header_callback(raw, HeaderCallback);
  nghttp2_session_callbacks_set_on_frame_recv_callback(raw, FrameRecvCallback);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(raw, DataChunkRecvCallback);
  nghttp2_session_callbacks_set_on_stream_close_callback(raw, StreamCloseCallback);
  nghttp2_session_callbacks_set_on_frame_not_send_callback(raw, FrameNotSendCallback);
  return CallbacksPtr(raw);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ClientCommandQueue

ClientCommandQueue::~ClientCommandQueue() { DropAll(); }

void ConnectivityWatch::Publish(Connectivity now) {
  if (state_.load(std::memory_order_relaxed) == now) return;
  {
    std::lock_guard lock(mutex_);
    state_.store(now, std::memory_order_release);
  }
  changed_.notify_all();
}

bool ConnectivityWatch::WaitForChange(Connectivity last,
                                      std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return changed_.wait_until(lock, deadline, [&] { return Get() != last; });
}

void ClientCommandQueue::Submit(ClientCommand command) {
  queue_.Push(std::move(command));
  // seq_cst pairs with Close(): either Close's drain sees our node, or we see closed_ and
  // drain it ourselves (the I/O thread is gone; nothing else would).
  if (closed_.load(std::memory_order_seq_cst)) {
    std::lock_guard<std::mutex> lock(drop_mutex_);
    DropAll();
    return;
  }
  loop_.Wake();
}

void ClientCommandQueue::Close() {
  closed_.store(true, std::memory_order_seq_cst);
  std::lock_guard<std::mutex> lock(drop_mutex_);
  DropAll();
}

void ClientCommandQueue::DropAll() {
  while (std::optional<ClientCommand> command = queue_.TryPop()) {
    if (command->kind == ClientCommand::Kind::kStart && command->stream) {
      command->stream->FinishBeforeStart(Status(StatusCode::kCancelled, "channel destroyed"));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ClientConnection: nghttp2 callbacks

ClientConnection::~ClientConnection() {
  if (fd_ >= 0) close(fd_);
}

std::string ClientConnection::Describe() const { return peer_.empty() ? owner_.target_ : peer_; }

ClientStreamState* ClientConnection::StreamFor(int32_t stream_id) {
  auto* stream = static_cast<ClientStreamState*>(
      nghttp2_session_get_stream_user_data(session_.get(), stream_id));
  if (stream == nullptr || stream->io.connection != this || stream->io.stream_id != stream_id) {
    return nullptr;
  }
  return stream;
}

void ClientConnection::Link(ClientStreamState* stream) {
  stream->io.prev = nullptr;
  stream->io.next = open_head_;
  if (open_head_ != nullptr) open_head_->io.prev = stream;
  open_head_ = stream;
  ++open_count_;
}

void ClientConnection::Unlink(ClientStreamState* stream) {
  if (stream->io.prev != nullptr) stream->io.prev->io.next = stream->io.next;
  if (stream->io.next != nullptr) stream->io.next->io.prev = stream->io.prev;
  if (open_head_ == stream) open_head_ = stream->io.next;
  stream->io.prev = stream->io.next = nullptr;
  --open_count_;
}

ssize_t ClientConnection::OnSend(const uint8_t* data, size_t length) {
  // Bounded output: past the limit nghttp2 keeps the frame and asks again after a flush.
  if (output_.size() >= owner_.options_.limits.max_pending_output) return NGHTTP2_ERR_WOULDBLOCK;
  output_.AppendCopy(data, length);
  return static_cast<ssize_t>(length);
}

ssize_t ClientConnection::OnReadData(uint8_t*, size_t length, uint32_t* data_flags,
                                     nghttp2_data_source* source) {
  auto& stream = *static_cast<ClientStreamState*>(source->ptr);
  auto& io = stream.io;
  if (io.outgoing_bytes == 0) {
    if (io.half_close_requested) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      io.local_closed = true;
      return 0;
    }
    io.data_deferred = true;  // kSend / kHalfClose resume it
    return NGHTTP2_ERR_DEFERRED;
  }
  const size_t n = std::min(length, io.outgoing_bytes);
  io.outgoing_bytes -= n;  // reserved for this frame; OnSendData takes exactly these bytes
  io.reserved_bytes += n;
  *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (io.outgoing_bytes == 0 && io.half_close_requested) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    io.local_closed = true;
  }
  return static_cast<ssize_t>(n);
}

int ClientConnection::OnSendData(nghttp2_frame* frame, const uint8_t* frame_header, size_t length,
                                 nghttp2_data_source* source) {
  if (output_.size() >= owner_.options_.limits.max_pending_output) return NGHTTP2_ERR_WOULDBLOCK;
  auto& stream = *static_cast<ClientStreamState*>(source->ptr);
  auto& io = stream.io;
  // We never ask for padding (no select_padding_callback), so padlen is 0.
  (void)frame;
  output_.AppendCopy(frame_header, 9);
  io.reserved_bytes -= std::min(io.reserved_bytes, length);
  io.wire_bytes += length;
  size_t left = length;
  while (left > 0 && !io.outgoing.empty()) {
    const std::shared_ptr<const std::string>& front = io.outgoing.front();
    const size_t take = std::min(left, front->size() - io.front_offset);
    output_.AppendRef(front, front->data() + io.front_offset, take);
    io.front_offset += take;
    left -= take;
    if (io.front_offset == front->size()) {
      // The unary request needs no copy: the call state keeps it (RetryUnprocessed).
      if (!(stream.has_first_message && front.get() == &stream.first_message)) {
        KeepForReplay(io, front);
      }
      io.outgoing.pop_front();
      io.front_offset = 0;
    }
  }
  // The unary request travels with the start and never counted against the writer's budget.
  size_t counted = length;
  const size_t uncounted = std::min(io.uncounted_bytes, counted);
  io.uncounted_bytes -= uncounted;
  counted -= uncounted;
  if (counted > 0) stream.OnBytesSent(counted);
  return 0;
}

int ClientConnection::OnBeginHeaders(const nghttp2_frame* frame) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  header_block_.clear();
  header_block_bytes_ = 0;
  return 0;
}

int ClientConnection::OnHeader(const nghttp2_frame* frame, std::string_view name,
                               std::string_view value) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  ClientStreamState* stream = StreamFor(frame->hd.stream_id);
  if (stream == nullptr) return 0;
  // nghttp2 advertises SETTINGS_MAX_HEADER_LIST_SIZE but does not enforce it: we do.
  // TEMPORAL_CALLBACK_FAILURE resets only this stream and keeps HPACK in sync.
  header_block_bytes_ += codec::HeaderFieldSize(name, value);
  const size_t limit = owner_.options_.limits.max_header_list_size;
  if (header_block_bytes_ > limit) {
    owner_.FinishStream(
        *stream,
        Status(StatusCode::kResourceExhausted,
               "response metadata larger than the limit of " + std::to_string(limit) + " bytes"),
        /*drop_unread=*/true);
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  if (stream->finished()) return 0;
  header_block_.emplace_back(std::string(name), std::string(value));
  return 0;
}

int ClientConnection::OnFrameRecv(const nghttp2_frame* frame) {
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS: {
      ClientStreamState* stream = StreamFor(frame->hd.stream_id);
      if (stream == nullptr || stream->finished()) return 0;
      const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
      if (!stream->io.got_response_headers) {
        HandleResponseHeaders(*stream, end_stream);
      } else if (end_stream) {
        HandleTrailers(*stream);
      }
      // A second block without END_STREAM is rejected by nghttp2's HTTP checks already.
      return 0;
    }
    case NGHTTP2_DATA: {
      if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) return 0;
      ClientStreamState* stream = StreamFor(frame->hd.stream_id);
      if (stream == nullptr || stream->finished()) return 0;
      // END_STREAM on DATA: the response ended without trailers, so without a status.
      owner_.FinishStream(
          *stream,
          Status(StatusCode::kInternal, "server closed the stream without sending trailers"),
          /*drop_unread=*/false);
      CloseLocalSide(*stream);
      return 0;
    }
    case NGHTTP2_SETTINGS:
      if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) owner_.OnServerSettings(*this);
      return 0;
    case NGHTTP2_GOAWAY:
      goaway_received_ = true;
      goaway_last_stream_id_ = frame->goaway.last_stream_id;
      goaway_error_ = frame->goaway.error_code;
      goaway_debug_.assign(reinterpret_cast<const char*>(frame->goaway.opaque_data),
                           std::min<size_t>(frame->goaway.opaque_data_len, 256));
      owner_.OnGoaway(*this);
      return 0;
    default:
      return 0;
  }
}

void ClientConnection::HandleResponseHeaders(ClientStreamState& stream, bool end_stream) {
  auto& io = stream.io;
  // 1xx informational responses precede the real one; skip them.
  for (const auto& [name, value] : header_block_) {
    if (name == ":status" && value.size() == 3 && value[0] == '1' && !end_stream) return;
  }
  io.got_response_headers = true;
  ForgetReplay(io);  // committed: no retry can happen any more
  StatusOr<codec::ResponseHead> head = codec::ValidateResponseHeaders(header_block_, false);
  if (!head.ok()) {
    // Not a gRPC response (e.g. :status 503 from a proxy): the block decides the status.
    owner_.AbortStream(stream, head.status(), codec::kHttp2Cancel);
    return;
  }
  Metadata metadata;
  if (Status s = DecodeMetadata(head->metadata, &metadata); !s.ok()) {
    owner_.AbortStream(stream, std::move(s), codec::kHttp2Cancel);
    return;
  }
  if (end_stream) {
    // Trailers-Only: the status and trailing metadata came in the only header block.
    io.got_trailers = true;
    Status status = head->status.has_value()
                        ? std::move(*head->status)
                        : Status(StatusCode::kUnknown,
                                 "server ended the call without a grpc-status (Trailers-Only)");
    stream.trailing_metadata() = std::move(metadata);
    owner_.FinishStream(stream, std::move(status), /*drop_unread=*/false);
    CloseLocalSide(stream);
    return;
  }
  io.receive_compression = head->encoding.value_or(codec::Compression::kIdentity);
  io.deframer.emplace(stream.max_receive_message_size,
                      io.receive_compression != codec::Compression::kIdentity);
  io.deframer->set_hooks(&kDeframerHooks, &stream);
  io.assembly.Clear();
  stream.PublishInitialMetadata(std::move(metadata));
  owner_.WakeLater(stream);
}

void ClientConnection::HandleTrailers(ClientStreamState& stream) {
  auto& io = stream.io;
  io.got_trailers = true;
  StatusOr<codec::ResponseHead> head = codec::ValidateResponseHeaders(header_block_, true);
  Status status;
  Metadata metadata;
  if (!head.ok()) {
    status = head.status();
  } else {
    status = head->status.has_value()
                 ? std::move(*head->status)
                 : Status(StatusCode::kUnknown, "server sent trailers without grpc-status");
    if (Status s = DecodeMetadata(head->metadata, &metadata); !s.ok()) status = std::move(s);
  }
  // A message cut short by END_STREAM is the server's bug even if it claims success.
  if (io.deframer.has_value() && status.ok()) {
    if (Status s = io.deframer->Finish(); !s.ok()) status = std::move(s);
  }
  stream.trailing_metadata() = std::move(metadata);
  owner_.FinishStream(stream, std::move(status), /*drop_unread=*/false);
  CloseLocalSide(stream);
}

void ClientConnection::CloseLocalSide(ClientStreamState& stream) {
  auto& io = stream.io;
  DropQueuedMessages(io);
  if (io.local_closed || io.stream_id <= 0) return;
  // PROTOCOL-HTTP2.md: a client that receives the status before it finished sending stops
  // sending and resets the stream with NO_ERROR.
  io.local_closed = true;
  nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, io.stream_id, NGHTTP2_NO_ERROR);
}

int ClientConnection::OnDataChunkRecv(int32_t stream_id, const uint8_t* data, size_t length) {
  // Connection window goes back at once: holding it for one slow stream would stall every
  // other stream on the connection. Per-stream credit is what tracks the reader.
  nghttp2_session_consume_connection(session_.get(), length);
  ClientStreamState* stream = StreamFor(stream_id);
  if (stream == nullptr || stream->finished() || !stream->io.deframer.has_value()) {
    nghttp2_session_consume_stream(session_.get(), stream_id, length);
    return 0;
  }
  stream->io.unconsumed_bytes += length;
  DeliverMessages(*stream, data, length);
  GiveBackWindow(*stream);
  return 0;
}

std::string ClientConnection::TakeMessageBuffer(void* stream) {
  return static_cast<ClientStreamState*>(stream)->queue->large_buffers()->TakeOrEmpty();
}

void ClientConnection::TakePayloadPiece(void* stream, const uint8_t* data, size_t size) {
  auto& io = static_cast<ClientStreamState*>(stream)->io;
  io.assembly.Add(io.connection->owner_.read_slab_, data, size);
}

void ClientConnection::DeliverMessages(ClientStreamState& stream, const uint8_t* data,
                                       size_t length) {
  auto& io = stream.io;
  codec::Deframer& deframer = *io.deframer;
  std::span<const uint8_t> rest(data, length);
  while (!rest.empty()) {
    const size_t used = deframer.Feed(rest);
    rest = rest.subspan(used);
    while (std::optional<codec::DeframedMessage> message = deframer.Next()) {
      ReceivedMessage received;
      received.wire_size = codec::kFramePrefixSize +
                           (message->in_sink ? io.assembly.bytes() : message->payload.size());
      received.compressed = message->compressed;
      if (message->in_sink) {
        received.pieces = io.assembly.Take();
      } else if (message->compressed) {
        StatusOr<std::string> plain = codec::Decompress(io.receive_compression, message->payload,
                                                        stream.max_receive_message_size);
        if (!plain.ok()) {
          owner_.AbortStream(stream, plain.status(), codec::kHttp2Cancel);
          return;
        }
        received.payload = std::move(*plain);
      } else {
        received.payload = std::move(message->payload);
      }
      if (stream.DeliverMessage(std::move(received))) owner_.WakeLater(stream);
    }
    if (deframer.failed()) {
      owner_.AbortStream(stream, deframer.status(), codec::kHttp2Cancel);
      return;
    }
    if (used == 0 && !rest.empty()) break;  // cannot happen (Next() emptied it); no spin
  }
}

void ClientConnection::GiveBackWindow(ClientStreamState& stream) {
  auto& io = stream.io;
  if (io.unconsumed_bytes == 0) return;
  // A fast reader gets window back as data arrives; a slow one holds it until it reads (its
  // Read() sends kConsume), so the server's writer slows down instead of our memory growing.
  if (stream.finished() || stream.ShouldConsumeNow()) {
    nghttp2_session_consume_stream(session_.get(), io.stream_id, io.unconsumed_bytes);
    io.unconsumed_bytes = 0;
  }
}

int ClientConnection::OnStreamClose(int32_t stream_id, uint32_t error_code) {
  ClientStreamState* stream = StreamFor(stream_id);
  if (stream == nullptr) return 0;
  auto& io = stream->io;
  // Keeps the state alive to the end of this function; nghttp2 forgets the stream now.
  std::shared_ptr<ClientStreamState> keep = std::move(io.self);
  Unlink(stream);
  io.connection = nullptr;
  io.assembly.Clear();  // a message cut off by the close: its read slabs go now
  io.phase = ClientStreamState::IoState::Phase::kDone;
  if (goaway_received_ && stream_id > goaway_last_stream_id_ && owner_.RetryUnprocessed(keep)) {
    owner_.more_work_ = true;
    return 0;
  }
  // REFUSED_STREAM promises that the server processed nothing of the stream (RFC 9113 §8.7):
  // a server or proxy at its stream limit. Like gRPC's own clients, start the call once more
  // (a second refusal fails it UNAVAILABLE); nghttp2 also closes streams it never sent this way.
  if (error_code == NGHTTP2_REFUSED_STREAM && !io.refused_retried) {
    io.refused_retried = true;
    if (owner_.RetryUnprocessed(keep)) {
      owner_.more_work_ = true;
      return 0;
    }
  }
  ReleaseQueuedMessages(io);
  // Nothing can send the request again now (no retry, nghttp2 forgot the stream): a large one
  // goes back to the channel's pool for the next call's frame — unless DATA frames of it still
  // wait in output_ (a stream reset while the socket was full): the next call would write its
  // own request over bytes this stream's frames are yet to send. It is freed with the state.
  if (stream->has_first_message && !output_.References(&stream->first_message)) {
    owner_.queue_.large_buffers()->Give(std::move(stream->first_message));
  }
  if (!stream->finished()) {
    Status status;
    const bool deadline_passed = stream->deadline && Clock::now() >= *stream->deadline;
    if (stream->cancel_requested()) {
      // The caller cancelled first; its kCancel command had not reached us yet. It asked for
      // this outcome, whatever the server did meanwhile.
      status = stream->cancel_status();
    } else if (goaway_received_ && stream_id > goaway_last_stream_id_ && deadline_passed) {
      status = Status(StatusCode::kDeadlineExceeded,
                      "deadline exceeded while the call waited to move off a closing connection");
    } else if (goaway_received_ && stream_id > goaway_last_stream_id_) {
      status = Unavailable("the server did not process the call: GOAWAY(last_stream_id=" +
                           std::to_string(goaway_last_stream_id_) + ", " +
                           codec::Http2ErrorString(goaway_error_) + ") from " + Describe());
    } else if (error_code == NGHTTP2_NO_ERROR) {
      status = Status(StatusCode::kInternal,
                      "stream closed by the server (RST_STREAM NO_ERROR) before trailers");
    } else {
      StatusCode code = codec::Http2ErrorToGrpc(error_code);
      if (code == StatusCode::kCancelled && deadline_passed) {
        code = StatusCode::kDeadlineExceeded;
      }
      status =
          Status(code, "stream reset by the server with " + codec::Http2ErrorString(error_code));
    }
    owner_.FinishStream(*stream, std::move(status), /*drop_unread=*/false);
  }
  owner_.more_work_ = true;  // a slot is free
  return 0;
}

int ClientConnection::OnFrameNotSend(const nghttp2_frame* frame, int library_error) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  ClientStreamState* stream = StreamFor(frame->hd.stream_id);
  if (stream == nullptr || stream->finished()) return 0;
  if (library_error == NGHTTP2_ERR_START_STREAM_NOT_ALLOWED ||
      library_error == NGHTTP2_ERR_STREAM_CLOSING || library_error == NGHTTP2_ERR_STREAM_CLOSED) {
    // Never reached the wire (e.g. a GOAWAY arrived first): safe to try again elsewhere.
    auto& io = stream->io;
    nghttp2_session_set_stream_user_data(session_.get(), frame->hd.stream_id, nullptr);
    std::shared_ptr<ClientStreamState> self = std::move(io.self);
    Unlink(stream);
    io.connection = nullptr;
    io.stream_id = -1;
    io.data_deferred = false;
    io.local_closed = false;
    io.phase = ClientStreamState::IoState::Phase::kWaiting;
    owner_.waiting_.push_front(std::move(self));
    owner_.more_work_ = true;
    return 0;
  }
  owner_.FinishStream(*stream,
                      Status(StatusCode::kInternal, std::string("could not send the request: ") +
                                                        nghttp2_strerror(library_error)),
                      /*drop_unread=*/true);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// ClientTransportImpl

ClientTransportImpl::ClientTransportImpl(std::string target, ClientTransportOptions options,
                                         ClientCommandQueue& queue, ConnectivityWatch& connectivity)
    : target_(std::move(target)),
      options_(std::move(options)),
      queue_(queue),
      connectivity_(connectivity),
      loop_(queue.loop()),
      host_port_(ParseTarget(target_)),
      callbacks_(MakeCallbacks()),
      session_options_(MakeSessionOptions(options_.limits, /*is_server=*/false)),
      settings_(MakeSettings(options_.limits, /*is_server=*/false, 0, options_.stream_window)),
      keepalive_time_(options_.keepalive.time),
      read_slab_(options_.limits.read_chunk) {
  authority_ = options_.authority.empty() ? TargetAuthority(target_) : options_.authority;
}

ClientTransportImpl::~ClientTransportImpl() {
  if (resolver_thread_.joinable()) resolver_thread_.join();
}

void ClientTransportImpl::Run() {
  loop_.set_poll_before_sleep(options_.poll_before_sleep);
  while (!shutdown_requested_.load(std::memory_order_acquire)) {
    loop_.RunOnce(kIdleWait, [this] {
      return more_work_ || !queue_.Empty() || shutdown_requested_.load(std::memory_order_acquire);
    });
    more_work_ = false;
    FlushWakes();  // what the socket brought: wake its callers before we write
    DrainCommands();
    ReapConnections();
    ServeWaiting();
    if (current_) Pump(*current_);
    for (auto& connection : draining_) Pump(*connection);
    ReapConnections();
    FlushWakes();
    PublishConnectivity();
  }
  ShutdownAll();
  FlushWakes();
  connectivity_.Publish(Connectivity::kShutdown);
}

void ClientTransportImpl::PublishConnectivity() {
  Connectivity now = Connectivity::kIdle;
  if (current_) {
    switch (current_->state_) {
      case ClientConnection::State::kReady:
        now = Connectivity::kReady;
        break;
      case ClientConnection::State::kDraining:
      case ClientConnection::State::kFailed:
        now = Connectivity::kTransientFailure;
        break;
      default:
        now = Connectivity::kConnecting;
    }
  } else if (backoff_.count() != 0) {
    now = Connectivity::kTransientFailure;  // the last attempt failed; none succeeded since
  }
  // A wish to connect lasts until a connection is ready: a waiter for the state may not see a
  // failed attempt that started and ended within one pass, so it could not renew the wish.
  if (now == Connectivity::kReady) connect_wanted_ = false;
  connectivity_.Publish(now);
}

void ClientTransportImpl::WakeLater(ClientStreamState& stream) {
  if (stream.io.wake_pending) return;
  stream.io.wake_pending = true;
  to_wake_.push_back(stream.shared_from_this());
}

void ClientTransportImpl::FlushWakes() {
  if (to_wake_.empty()) return;
  WakeBatch batch;
  for (auto& stream : to_wake_) {
    stream->io.wake_pending = false;
    stream->WakeCallerInto(batch);
  }
  batch.Flush();
  to_wake_.clear();
}

void ClientTransportImpl::DrainCommands() {
  while (std::optional<ClientCommand> command = queue_.TryPop()) {
    switch (command->kind) {
      case ClientCommand::Kind::kStart:
        HandleStart(std::move(command->stream));
        break;
      case ClientCommand::Kind::kSend:
        HandleSend(*command->stream, std::move(command->message));
        break;
      case ClientCommand::Kind::kHalfClose:
        HandleHalfClose(*command->stream);
        break;
      case ClientCommand::Kind::kCancel:
        // Before its kStart (another thread cancelled early): HandleStart sees the flag.
        if (command->stream->io.phase != ClientStreamState::IoState::Phase::kNew) {
          AbortStream(*command->stream, command->stream->cancel_status(), codec::kHttp2Cancel);
        }
        break;
      case ClientCommand::Kind::kConsume:
        HandleConsume(*command->stream);
        break;
      case ClientCommand::Kind::kResolved:
        HandleResolved();
        break;
      case ClientCommand::Kind::kConnect:
        connect_wanted_ = true;  // ServeWaiting, right after, acts on it
        break;
    }
  }
}

void ClientTransportImpl::HandleStart(std::shared_ptr<ClientStreamState> stream) {
  auto& io = stream->io;
  if (stream->finished()) return;
  if (stream->cancel_requested()) {
    io.phase = ClientStreamState::IoState::Phase::kDone;
    stream->Complete(stream->cancel_status(), true);
    return;
  }
  if (stream->deadline) {
    if (*stream->deadline <= Clock::now()) {
      io.phase = ClientStreamState::IoState::Phase::kDone;
      stream->Complete(
          Status(StatusCode::kDeadlineExceeded, "deadline exceeded before the call started"), true);
      return;
    }
    ClientStreamState* raw = stream.get();
    io.deadline_timer = loop_.AddTimer(*stream->deadline, [this, raw] { OnDeadline(*raw); });
  }
  if (stream->has_first_message) {
    // Aliasing shared_ptr: the request lives inside the call state, no second allocation.
    io.outgoing.push_back(std::shared_ptr<const std::string>(stream, &stream->first_message));
    io.outgoing_bytes += stream->first_message.size();
    io.uncounted_bytes = stream->first_message.size();
  }
  io.half_close_requested = stream->half_close_at_start;
  io.phase = ClientStreamState::IoState::Phase::kWaiting;
  // No more_work_: ServeWaiting() runs right after DrainCommands() in this same iteration, and
  // what could keep the stream waiting (connecting, no free slot) sets more_work_ when it ends.
  // Setting it here cost every call an extra epoll_wait(0) syscall.
  waiting_.push_back(std::move(stream));
}

void ClientTransportImpl::HandleSend(ClientStreamState& stream,
                                     std::shared_ptr<const std::string> message) {
  auto& io = stream.io;
  if (stream.finished() || io.half_close_requested) return;
  io.outgoing_bytes += message->size();
  io.outgoing.push_back(std::move(message));
  ResumeData(stream);
}

void ClientTransportImpl::HandleHalfClose(ClientStreamState& stream) {
  if (stream.finished()) return;
  stream.io.half_close_requested = true;
  ResumeData(stream);
}

void ClientTransportImpl::ResumeData(ClientStreamState& stream) {
  auto& io = stream.io;
  if (io.phase != ClientStreamState::IoState::Phase::kOpen || !io.data_deferred) return;
  io.data_deferred = false;
  nghttp2_session_resume_data(io.connection->session_.get(), io.stream_id);
}

void ClientTransportImpl::HandleConsume(ClientStreamState& stream) {
  auto& io = stream.io;
  if (io.phase != ClientStreamState::IoState::Phase::kOpen || io.unconsumed_bytes == 0) return;
  nghttp2_session_consume_stream(io.connection->session_.get(), io.stream_id, io.unconsumed_bytes);
  io.unconsumed_bytes = 0;
}

void ClientTransportImpl::FinishStream(ClientStreamState& stream, Status status, bool drop_unread) {
  auto& io = stream.io;
  if (io.deadline_timer != 0) {
    loop_.CancelTimer(io.deadline_timer);
    io.deadline_timer = 0;
  }
  if (io.phase == ClientStreamState::IoState::Phase::kWaiting) {
    io.phase = ClientStreamState::IoState::Phase::kDone;  // skipped when it reaches the front
  }
  // Nothing more is sent for a finished call.
  if (io.phase == ClientStreamState::IoState::Phase::kOpen) {
    DropQueuedMessages(io);
  } else {
    ReleaseQueuedMessages(io);
  }
  stream.CompleteQuietly(std::move(status), drop_unread);
  WakeLater(stream);
}

void ClientTransportImpl::AbortStream(ClientStreamState& stream, Status status,
                                      uint32_t http2_error) {
  if (stream.finished()) return;
  FinishStream(stream, std::move(status), /*drop_unread=*/true);
  auto& io = stream.io;
  if (io.phase == ClientStreamState::IoState::Phase::kOpen && io.connection != nullptr) {
    nghttp2_submit_rst_stream(io.connection->session_.get(), NGHTTP2_FLAG_NONE, io.stream_id,
                              http2_error);
  }
}

void ClientTransportImpl::OnDeadline(ClientStreamState& stream) {
  stream.io.deadline_timer = 0;
  stream.io.deadline_passed = true;
  std::string message = "deadline exceeded";
  // A wait-for-ready call that never got a connection: say why there was none.
  if (stream.io.phase == ClientStreamState::IoState::Phase::kWaiting &&
      (!current_ || current_->state_ != ClientConnection::State::kReady)) {
    message += " while waiting for a connection to " + target_;
    if (!last_connect_failure_.ok())
      message += " (last attempt: " + last_connect_failure_.message() + ")";
  }
  AbortStream(stream, Status(StatusCode::kDeadlineExceeded, std::move(message)),
              codec::kHttp2Cancel);
  more_work_ = true;
}

void ClientTransportImpl::ServeWaiting() {
  while (!waiting_.empty() &&
         waiting_.front()->io.phase == ClientStreamState::IoState::Phase::kDone) {
    waiting_.pop_front();
  }
  if (waiting_.empty() && !connect_wanted_) return;
  if (!current_) {
    if (Clock::now() < backoff_until_) {
      FailWaiting(BackoffStatus());
      if (!waiting_.empty() || connect_wanted_) ArmReconnect();
      return;
    }
    StartConnecting();
    return;
  }
  OpenWaitingStreams();
}

void ClientTransportImpl::ArmReconnect() {
  if (reconnect_timer_ != 0) return;
  reconnect_timer_ = loop_.AddTimer(backoff_until_, [this] {
    reconnect_timer_ = 0;
    more_work_ = true;  // ServeWaiting connects, if anyone still waits
  });
}

void ClientTransportImpl::OpenWaitingStreams() {
  while (current_ && current_->state_ == ClientConnection::State::kReady && !waiting_.empty()) {
    if (waiting_.front()->io.phase == ClientStreamState::IoState::Phase::kDone) {
      waiting_.pop_front();
      continue;
    }
    const uint32_t limit = nghttp2_session_get_remote_settings(
        current_->session_.get(), NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    if (current_->open_count_ >= limit) return;  // the rest wait for a slot (or their deadline)
    std::shared_ptr<ClientStreamState> stream = std::move(waiting_.front());
    waiting_.pop_front();
    SubmitStream(*current_, std::move(stream));
  }
}

void ClientTransportImpl::FailWaiting(const Status& status) {
  std::deque<std::shared_ptr<ClientStreamState>> failed;
  failed.swap(waiting_);
  for (auto& stream : failed) {
    if (stream->io.phase == ClientStreamState::IoState::Phase::kDone) continue;
    if (stream->wait_for_ready) {
      waiting_.push_back(std::move(stream));
      continue;
    }
    FinishStream(*stream, status, /*drop_unread=*/true);
  }
}

void ClientTransportImpl::SubmitStream(ClientConnection& connection,
                                       std::shared_ptr<ClientStreamState> stream) {
  auto& io = stream->io;
  nv_scratch_.clear();
  nv_scratch_.push_back(MakeNv(":method", "POST"));
  nv_scratch_.push_back(MakeNv(":scheme", "http"));
  nv_scratch_.push_back(MakeNv(":path", stream->path));
  nv_scratch_.push_back(MakeNv(":authority", authority_));
  nv_scratch_.push_back(MakeNv("te", "trailers"));
  nv_scratch_.push_back(MakeNv("content-type", "application/grpc"));
  nv_scratch_.push_back(MakeNv("user-agent", options_.user_agent));
  nv_scratch_.push_back(MakeNv("grpc-accept-encoding", codec::SupportedEncodingsHeader()));
  if (stream->send_compression != codec::Compression::kIdentity) {
    nv_scratch_.push_back(
        MakeNv("grpc-encoding", codec::CompressionName(stream->send_compression)));
  }
  if (stream->deadline) {
    // The time left now, not at the call's start: time spent waiting for a slot counts.
    const auto left = *stream->deadline - Clock::now();
    if (left <= Clock::duration::zero()) {
      // Due, but its timer has not run yet: end the call here (which also cancels the timer).
      stream->io.deadline_passed = true;
      FinishStream(*stream, Status(StatusCode::kDeadlineExceeded, "deadline exceeded"), true);
      return;
    }
    io.timeout_header =
        codec::FormatTimeout(std::chrono::duration_cast<std::chrono::nanoseconds>(left));
    nv_scratch_.push_back(MakeNv("grpc-timeout", io.timeout_header));
  }
  for (const auto& [key, value] : stream->metadata) nv_scratch_.push_back(MakeNv(key, value));
  // The server said how large a header list it accepts; more would only get the stream (or
  // the connection) refused, so fail the call here, before anything is sent.
  const uint32_t peer_limit = nghttp2_session_get_remote_settings(
      connection.session_.get(), NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE);
  size_t list_size = 0;
  for (const nghttp2_nv& nv : nv_scratch_)
    list_size += codec::HeaderFieldSize(
        std::string_view(reinterpret_cast<const char*>(nv.name), nv.namelen),
        std::string_view(reinterpret_cast<const char*>(nv.value), nv.valuelen));
  if (list_size > peer_limit) {
    FinishStream(*stream,
                 Status(StatusCode::kInternal, "request metadata of " + std::to_string(list_size) +
                                                   " bytes exceeds the server's limit of " +
                                                   std::to_string(peer_limit) +
                                                   " bytes (SETTINGS_MAX_HEADER_LIST_SIZE)"),
                 true);
    return;
  }

  nghttp2_data_provider provider;
  provider.source.ptr = stream.get();
  provider.read_callback = ReadDataCallback;
  const int32_t id = nghttp2_submit_request(connection.session_.get(), nullptr, nv_scratch_.data(),
                                            nv_scratch_.size(), &provider, stream.get());
  if (id < 0) {
    if (id == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE) {
      // 2^30 streams used up: this connection drains, the call waits for a fresh one.
      waiting_.push_front(std::move(stream));
      OnGoaway(connection);
      return;
    }
    FinishStream(*stream,
                 Status(StatusCode::kInternal,
                        std::string("could not start the request: ") + nghttp2_strerror(id)),
                 true);
    return;
  }
  io.stream_id = id;
  io.connection = &connection;
  io.phase = ClientStreamState::IoState::Phase::kOpen;
  stream->PublishPeer(connection.peer_);
  ClientStreamState* raw = stream.get();
  io.self = std::move(stream);
  connection.Link(raw);
}

// --- connections ---

void ClientTransportImpl::StartConnecting() {
  auto connection = std::make_unique<ClientConnection>(*this);
  ClientConnection* raw = connection.get();
  raw->attempt_started_ = Clock::now();
  // gRPC's minimum connect timeout bounds resolution + TCP + the server's SETTINGS.
  raw->connect_timer_ =
      loop_.AddTimer(raw->attempt_started_ + options_.connect_timeout, [this, raw] {
        raw->connect_timer_ = 0;
        const bool in_tls = raw->state_ == ClientConnection::State::kTlsHandshaking;
        FailConnection(*raw, Unavailable((in_tls ? "TLS handshake with " + raw->peer_
                                                 : "connecting to " + target_) +
                                         " timed out after " +
                                         std::to_string(options_.connect_timeout.count()) + " ms"));
      });
  current_ = std::move(connection);
  if (!host_port_.ok()) {
    FailConnection(*raw, Unavailable("invalid target: " + host_port_.status().message()));
    return;
  }
  if (host_port_->unix_address || ResolvesLocally(host_port_->host)) {
    OnResolved(*raw, Resolve(*host_port_, /*passive=*/false));
    return;
  }
  raw->awaiting_resolution_ = true;
  if (resolver_running_) return;  // the running lookup's answer will serve this attempt
  if (resolver_thread_.joinable()) resolver_thread_.join();
  resolver_running_ = true;
  resolver_thread_ = std::thread([this, host_port = *host_port_] {
    StatusOr<std::vector<SocketAddress>> result = Resolve(host_port, /*passive=*/false);
    {
      std::lock_guard<std::mutex> lock(resolver_mutex_);
      resolver_result_ = std::move(result);
    }
    queue_.Submit({ClientCommand::Kind::kResolved, nullptr, nullptr});
  });
}

void ClientTransportImpl::HandleResolved() {
  std::optional<StatusOr<std::vector<SocketAddress>>> result;
  {
    std::lock_guard<std::mutex> lock(resolver_mutex_);
    result.swap(resolver_result_);
  }
  resolver_running_ = false;
  if (resolver_thread_.joinable()) resolver_thread_.join();
  if (!result || !current_ || !current_->awaiting_resolution_) return;
  current_->awaiting_resolution_ = false;
  OnResolved(*current_, std::move(*result));
}

void ClientTransportImpl::OnResolved(ClientConnection& connection,
                                     StatusOr<std::vector<SocketAddress>> addresses) {
  if (!addresses.ok()) {
    FailConnection(connection, Unavailable(addresses.status().message()));
    return;
  }
  connection.addresses_ = std::move(*addresses);
  connection.next_address_ = 0;
  TryNextAddress(connection);
}

void ClientTransportImpl::TryNextAddress(ClientConnection& connection) {
  while (connection.next_address_ < connection.addresses_.size()) {
    const SocketAddress& address = connection.addresses_[connection.next_address_++];
    StatusOr<int> fd = StartConnect(address);
    if (!fd.ok()) {
      connection.last_connect_error_ = fd.status();
      continue;
    }
    connection.fd_ = *fd;
    connection.peer_ = address.ToString();
    connection.epoll_events_ = EPOLLOUT;
    ClientConnection* raw = &connection;
    loop_.Add(connection.fd_, EPOLLOUT,
              [this, raw](uint32_t events) { OnSocketEvent(*raw, events); });
    return;
  }
  Status error = connection.last_connect_error_.ok()
                     ? Unavailable("no address to connect to for " + target_)
                     : connection.last_connect_error_;
  FailConnection(connection,
                 Unavailable("failed to connect to " + target_ + ": " + error.message()));
}

void ClientTransportImpl::OnSocketEvent(ClientConnection& connection, uint32_t events) {
  if (connection.state_ == ClientConnection::State::kFailed) return;
  if (connection.state_ == ClientConnection::State::kConnecting) {
    Status connected = FinishConnect(connection.fd_);
    if (!connected.ok()) {
      connection.last_connect_error_ = Unavailable(connection.peer_ + ": " + connected.message());
      loop_.Remove(connection.fd_);
      close(connection.fd_);
      connection.fd_ = -1;
      connection.peer_.clear();
      TryNextAddress(connection);
      return;
    }
    if (options_.tls) {
      StartTls(connection);
    } else {
      connection.link_.UsePlain(connection.fd_);
      OnConnected(connection);
    }
    return;
  }
  if (connection.state_ == ClientConnection::State::kTlsHandshaking) {
    ContinueTlsHandshake(connection);
    return;
  }
  const bool read_wants_write = connection.link_.read_wants_write() && (events & EPOLLOUT) != 0;
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0 || read_wants_write) ReadSocket(connection);
  if (connection.state_ != ClientConnection::State::kFailed && (events & EPOLLOUT) != 0) {
    if (connection.link_.Flush(connection.output_) < 0) {
      FailConnection(connection, Unavailable("write to " + connection.peer_ +
                                             " failed: " + connection.link_.ErrorText(errno)));
      return;
    }
    more_work_ = true;  // room again: let nghttp2 produce more
  }
}

void ClientTransportImpl::OnConnected(ClientConnection& connection) {
  nghttp2_session* raw = nullptr;
  if (nghttp2_session_client_new3(&raw, callbacks_.get(), &connection, session_options_.get(),
                                  connection.session_allocator_.mem()) != 0) {
    FailConnection(connection, Unavailable("out of memory creating an HTTP/2 session"));
    return;
  }
  connection.session_.reset(raw);
  // nghttp2 sends the client preface itself before these SETTINGS.
  nghttp2_submit_settings(raw, NGHTTP2_FLAG_NONE, settings_.data(), settings_.size());
  // The connection window is not a SETTINGS value: raise it with a WINDOW_UPDATE.
  nghttp2_session_set_local_window_size(raw, NGHTTP2_FLAG_NONE, 0,
                                        static_cast<int32_t>(options_.connection_window));
  connection.state_ = ClientConnection::State::kHandshaking;
  UpdateInterest(connection);
  more_work_ = true;
}

void ClientTransportImpl::StartTls(ClientConnection& connection) {
  const std::string& host = options_.tls_target_name_override.empty()
                                ? host_port_->host
                                : options_.tls_target_name_override;
  const std::string dialled = host_port_->unix_address
                                  ? host_port_->unix_address->ToString()
                                  : host_port_->host + ":" + std::to_string(host_port_->port);
  Status started = connection.link_.UseTls(connection.fd_, options_.tls, host, dialled);
  if (!started.ok()) {
    FailConnection(connection, started);
    return;
  }
  connection.state_ = ClientConnection::State::kTlsHandshaking;
  ContinueTlsHandshake(connection);
}

void ClientTransportImpl::ContinueTlsHandshake(ClientConnection& connection) {
  uint32_t wanted = 0;
  switch (connection.link_.Handshake()) {
    case Link::HandshakeResult::kDone:
      OnConnected(connection);
      // Bytes OpenSSL already decrypted would never wake epoll.
      if (connection.link_.HasBufferedInput()) ReadSocket(connection);
      return;
    case Link::HandshakeResult::kWantRead:
      wanted = EPOLLIN;
      break;
    case Link::HandshakeResult::kWantWrite:
      wanted = EPOLLOUT;
      break;
    case Link::HandshakeResult::kFailed:
      FailConnection(connection, Unavailable("TLS handshake with " + connection.peer_ +
                                             " failed: " + connection.link_.error()));
      return;
  }
  if (wanted != connection.epoll_events_) {
    connection.epoll_events_ = wanted;
    loop_.Modify(connection.fd_, wanted);
  }
}

void ClientTransportImpl::OnServerSettings(ClientConnection& connection) {
  more_work_ = true;  // MAX_CONCURRENT_STREAMS may have grown
  if (connection.state_ != ClientConnection::State::kHandshaking) return;
  // Streams open only after the server's SETTINGS: its MAX_CONCURRENT_STREAMS is then known
  // (a burst of calls must not overrun a limit we have not seen yet).
  connection.state_ = ClientConnection::State::kReady;
  connection.ever_ready_ = true;
  if (connection.connect_timer_ != 0) {
    loop_.CancelTimer(connection.connect_timer_);
    connection.connect_timer_ = 0;
  }
  backoff_ = std::chrono::milliseconds(0);
  backoff_until_ = Clock::time_point();
  StartKeepalive(connection);
}

void ClientTransportImpl::OnGoaway(ClientConnection& connection) {
  more_work_ = true;
  if (connection.state_ == ClientConnection::State::kFailed) return;
  if (connection.state_ != ClientConnection::State::kDraining) {
    connection.state_ = ClientConnection::State::kDraining;
    if (connection.connect_timer_ != 0) {
      loop_.CancelTimer(connection.connect_timer_);
      connection.connect_timer_ = 0;
    }
  }
  if (connection.keepalive_ &&
      IsTooManyPingsGoaway(connection.goaway_error_, connection.goaway_debug_)) {
    // gRPC's answer: ping half as often on later connections, and no more on this one (so a
    // repeated GOAWAY doubles once).
    keepalive_time_ = DoubledKeepaliveTime(keepalive_time_);
    if (connection.keepalive_timer_ != 0) loop_.CancelTimer(connection.keepalive_timer_);
    connection.keepalive_timer_ = 0;
    connection.keepalive_.reset();
  }
  // New calls go to a new connection; this one finishes its streams ≤ last_stream_id.
  if (current_.get() == &connection) draining_.push_back(std::move(current_));
}

void ClientTransportImpl::StartKeepalive(ClientConnection& connection) {
  if (!IsFinite(keepalive_time_)) return;
  connection.keepalive_.emplace(keepalive_time_, options_.keepalive.timeout,
                                options_.keepalive.permit_without_calls, Clock::now());
  ClientConnection* raw = &connection;
  connection.keepalive_timer_ =
      loop_.AddTimer(connection.keepalive_->FirstCheck(), [this, raw] { OnKeepaliveTimer(*raw); });
}

void ClientTransportImpl::OnKeepaliveTimer(ClientConnection& connection) {
  connection.keepalive_timer_ = 0;
  if (connection.state_ == ClientConnection::State::kFailed || !connection.keepalive_) return;
  const KeepalivePinger::Decision decision =
      connection.keepalive_->OnTimer(Clock::now(), connection.open_count_ > 0);
  switch (decision.action) {
    case KeepalivePinger::Action::kDead:
      FailConnection(connection,
                     Unavailable("keepalive ping not acknowledged within " +
                                 std::to_string(connection.keepalive_->timeout().count()) +
                                 " ms by " + connection.Describe() + "; connection closed"));
      return;
    case KeepalivePinger::Action::kSendPing:
      nghttp2_submit_ping(connection.session_.get(), NGHTTP2_FLAG_NONE, nullptr);
      more_work_ = true;
      break;
    case KeepalivePinger::Action::kWait:
      break;
  }
  ClientConnection* raw = &connection;
  connection.keepalive_timer_ =
      loop_.AddTimer(decision.next_check, [this, raw] { OnKeepaliveTimer(*raw); });
}

bool ClientTransportImpl::RetryUnprocessed(std::shared_ptr<ClientStreamState>& stream_ref) {
  ClientStreamState& stream = *stream_ref;
  constexpr uint8_t kMaxTransparentRetries = 4;  // a server refusing forever must not loop us
  auto& io = stream.io;
  if (stream.finished() || stream.cancel_requested() || io.got_response_headers ||
      io.transparent_retries >= kMaxTransparentRetries) {
    return false;
  }
  // Everything that left must go again, in order: the unary request (kept in the call state),
  // the streamed messages kept for replay, then the queue (its front possibly half sent).
  // Once the replay buffer overflowed, sending the rest alone would change the call.
  const size_t first_size = stream.has_first_message ? stream.first_message.size() : 0;
  if (io.replay_overflowed && io.wire_bytes > first_size) return false;
  const bool front_is_first =
      !io.outgoing.empty() && io.outgoing.front().get() == &stream.first_message;
  // Bytes of the new queue's prefix that were already counted against the writer's send budget
  // (or never were: the unary request) must not be counted again when they go out once more.
  const size_t already_counted =
      first_size + io.replay_bytes + (front_is_first ? 0 : io.front_offset);
  OutgoingMessages rebuilt;
  size_t bytes = 0;
  if (stream.has_first_message) {
    rebuilt.push_back(std::shared_ptr<const std::string>(stream_ref, &stream.first_message));
    bytes += first_size;
  }
  for (const auto& message : io.replay) {
    rebuilt.push_back(message);
    bytes += message->size();
  }
  for (const auto& message : io.outgoing) {
    if (message.get() == &stream.first_message) continue;
    rebuilt.push_back(message);
    bytes += message->size();
  }
  ForgetReplay(io);
  io.outgoing = std::move(rebuilt);
  io.outgoing_bytes = bytes;
  io.front_offset = 0;
  io.reserved_bytes = 0;
  io.uncounted_bytes = already_counted;
  io.wire_bytes = 0;
  io.local_closed = false;
  io.data_deferred = false;
  io.unconsumed_bytes = 0;
  io.deframer.reset();
  io.assembly.Clear();
  io.stream_id = -1;
  io.phase = ClientStreamState::IoState::Phase::kWaiting;
  ++io.transparent_retries;
  waiting_.push_front(std::move(stream_ref));
  return true;
}

void ClientTransportImpl::ReadSocket(ClientConnection& connection) {
  // TLS hands out one record (<= 16 KiB) per read: allow more reads per event, and always
  // take what OpenSSL has decrypted already (epoll cannot report it).
  const int max_reads = connection.link_.tls() ? 4 * kMaxReadsPerEvent : kMaxReadsPerEvent;
  for (int i = 0; i < max_reads || connection.link_.HasBufferedInput(); ++i) {
    const std::span<uint8_t> room = read_slab_.PrepareRead();
    const ssize_t n = connection.link_.Read(room.data(), room.size());
    if (n > 0) {
      if (i == 0 && connection.keepalive_) connection.keepalive_->OnRead(Clock::now());
      read_slab_.OnRead(static_cast<size_t>(n));
      const ssize_t consumed =
          nghttp2_session_mem_recv(connection.session_.get(), room.data(), static_cast<size_t>(n));
      read_slab_.FinishRead();
      if (consumed < 0) {
        FailConnection(connection, Unavailable("HTTP/2 protocol error on the connection to " +
                                               connection.peer_ + ": " +
                                               nghttp2_strerror(static_cast<int>(consumed))));
        return;
      }
      if (connection.state_ == ClientConnection::State::kFailed) return;
      // Drained; skip the EAGAIN read (a short TLS read is only the end of a record).
      if (!connection.link_.tls() && static_cast<size_t>(n) < room.size()) return;
      continue;
    }
    if (n == 0) {
      std::string why = "connection to " + connection.peer_ + " closed by the server";
      if (connection.goaway_received_) {
        why += " after GOAWAY(" + codec::Http2ErrorString(connection.goaway_error_) +
               (connection.goaway_debug_.empty() ? "" : ", \"" + connection.goaway_debug_ + "\"") +
               ")";
      }
      FailConnection(connection, Unavailable(std::move(why)));
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    FailConnection(
        connection,
        Unavailable(connection.link_.tls() && errno == EPROTO
                        ? "TLS error on the connection to " + connection.peer_ + ": " +
                              connection.link_.error()
                        : "read from " + connection.peer_ + " failed: " + ErrnoText(errno)));
    return;
  }
  more_work_ = true;  // more may be waiting in the socket; level-triggered epoll reports it
}

void ClientTransportImpl::Pump(ClientConnection& connection) {
  if (!connection.session_ || connection.state_ == ClientConnection::State::kFailed) return;
  const size_t limit = options_.limits.max_pending_output;
  for (int round = 0; round < kMaxPumpRounds; ++round) {
    const int rv = nghttp2_session_send(connection.session_.get());
    if (rv != 0) {
      FailConnection(connection, Unavailable("HTTP/2 error on the connection to " +
                                             connection.peer_ + ": " + nghttp2_strerror(rv)));
      return;
    }
    // Below the limit, nghttp2 had nothing more to give; at it, it is waiting for room.
    const bool limited = connection.output_.size() >= limit;
    if (connection.output_.empty()) break;
    if (connection.link_.Flush(connection.output_) < 0) {
      FailConnection(connection, Unavailable("write to " + connection.peer_ +
                                             " failed: " + connection.link_.ErrorText(errno)));
      return;
    }
    if (!connection.output_.empty()) break;  // socket full: EPOLLOUT tells us when to go on
    if (!limited) break;
    if (round + 1 == kMaxPumpRounds) more_work_ = true;  // fairness: continue next iteration
  }
  UpdateInterest(connection);
}

void ClientTransportImpl::UpdateInterest(ClientConnection& connection) {
  if (connection.fd_ < 0) return;
  if (connection.state_ == ClientConnection::State::kConnecting ||
      connection.state_ == ClientConnection::State::kTlsHandshaking) {
    return;  // the connect / handshake step owns the interest mask
  }
  const bool want_out = !connection.output_.empty() || connection.link_.read_wants_write();
  const uint32_t wanted = EPOLLIN | (want_out ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  if (wanted == connection.epoll_events_) return;
  connection.epoll_events_ = wanted;
  loop_.Modify(connection.fd_, wanted);
}

void ClientTransportImpl::FailConnection(ClientConnection& connection, Status status) {
  if (connection.state_ == ClientConnection::State::kFailed) return;
  if (connection.state_ == ClientConnection::State::kHandshaking) {
    // However the attempt ends (close, reset, EPIPE, a frame nghttp2 rejects), the likely cause
    // is a peer that is not an HTTP/2 server; say so whichever way the socket broke.
    status = Status(status.code(), std::string(status.message()) +
                                       " before the HTTP/2 handshake completed (not an HTTP/2 "
                                       "server?)");
  }
  connection.state_ = ClientConnection::State::kFailed;
  connection.failure_ = std::move(status);
  more_work_ = true;
}

void ClientTransportImpl::ReapConnections() {
  if (current_ && current_->state_ == ClientConnection::State::kFailed) {
    std::unique_ptr<ClientConnection> connection = std::move(current_);
    const Status failure = connection->failure_;
    CloseConnection(*connection, failure);
    if (!connection->ever_ready_) OnConnectAttemptFailed(*connection, failure);
  }
  for (size_t i = 0; i < draining_.size();) {
    ClientConnection& connection = *draining_[i];
    const bool failed = connection.state_ == ClientConnection::State::kFailed;
    const bool drained = connection.open_count_ == 0 && connection.output_.empty();
    if (failed || drained) {
      if (!failed) connection.link_.SendCloseNotify();  // done in good order: say so (TLS)
      CloseConnection(connection, failed ? connection.failure_
                                         : Unavailable("connection drained after GOAWAY"));
      draining_.erase(draining_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
}

void ClientTransportImpl::CloseConnection(ClientConnection& connection, const Status& status) {
  if (connection.connect_timer_ != 0) {
    loop_.CancelTimer(connection.connect_timer_);
    connection.connect_timer_ = 0;
  }
  if (connection.keepalive_timer_ != 0) {
    loop_.CancelTimer(connection.keepalive_timer_);
    connection.keepalive_timer_ = 0;
  }
  if (connection.fd_ >= 0) {
    loop_.Remove(connection.fd_);
    close(connection.fd_);
    connection.fd_ = -1;
  }
  // Every call still on the connection ends with the connection's failure.
  while (connection.open_head_ != nullptr) {
    ClientStreamState* stream = connection.open_head_;
    connection.Unlink(stream);
    std::shared_ptr<ClientStreamState> keep = std::move(stream->io.self);
    stream->io.connection = nullptr;
    stream->io.phase = ClientStreamState::IoState::Phase::kDone;
    ReleaseQueuedMessages(stream->io);
    FinishStream(*stream, status, /*drop_unread=*/false);
  }
  // No callbacks run from nghttp2_session_del; the streams are detached above.
  connection.session_.reset();
  connection.state_ = ClientConnection::State::kFailed;
  more_work_ = true;
}

void ClientTransportImpl::OnConnectAttemptFailed(const ClientConnection& connection,
                                                 const Status& status) {
  // connection-backoff.md: the next attempt starts `backoff` after this one started; each
  // failure multiplies it (up to the max), with ±jitter so clients do not reconnect in step.
  if (backoff_.count() == 0) {
    backoff_ = options_.backoff_initial;
  } else {
    const double next = static_cast<double>(backoff_.count()) * options_.backoff_multiplier;
    backoff_ = std::chrono::milliseconds(
        static_cast<int64_t>(std::min(next, static_cast<double>(options_.backoff_max.count()))));
  }
  std::uniform_real_distribution<double> jitter(-options_.backoff_jitter, options_.backoff_jitter);
  const auto delay = std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(backoff_.count()) * (1.0 + jitter(random_))));
  backoff_until_ = connection.attempt_started_ + delay;
  last_connect_failure_ = status;
  FailWaiting(status);
}

Status ClientTransportImpl::BackoffStatus() const {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(backoff_until_ - Clock::now());
  return Unavailable(last_connect_failure_.message() + " (reconnecting in " +
                     std::to_string(std::max<int64_t>(left.count(), 0)) + " ms)");
}

void ClientTransportImpl::ShutdownAll() {
  if (reconnect_timer_ != 0) {
    loop_.CancelTimer(reconnect_timer_);
    reconnect_timer_ = 0;
  }
  const Status bye(StatusCode::kCancelled, "channel destroyed");
  for (auto& stream : waiting_) {
    if (stream->io.phase != ClientStreamState::IoState::Phase::kDone)
      FinishStream(*stream, bye, true);
  }
  waiting_.clear();
  auto close_politely = [&](ClientConnection& connection) {
    if (connection.session_ && connection.state_ != ClientConnection::State::kFailed) {
      // Best effort: tell the server, without waiting for the socket.
      for (ClientStreamState* s = connection.open_head_; s != nullptr; s = s->io.next) {
        AbortStream(*s, bye, codec::kHttp2Cancel);
      }
      nghttp2_session_terminate_session(connection.session_.get(), NGHTTP2_NO_ERROR);
      nghttp2_session_send(connection.session_.get());
      connection.link_.Flush(connection.output_);
      // Behind our last bytes only: a TLS server then sees a client that is done, not one cut off.
      if (connection.output_.empty()) connection.link_.SendCloseNotify();
    }
    CloseConnection(connection, bye);
  };
  if (current_) close_politely(*current_);
  current_.reset();
  for (auto& connection : draining_) close_politely(*connection);
  draining_.clear();
  // Calls started concurrently with the shutdown.
  while (std::optional<ClientCommand> command = queue_.TryPop()) {
    if (command->kind == ClientCommand::Kind::kStart && command->stream) {
      command->stream->Complete(bye, true);
    }
  }
  if (resolver_thread_.joinable()) resolver_thread_.join();
}

}  // namespace h2rpc::transport

// ---------------------------------------------------------------------------------------------
// ClientTransport (caller side)

namespace h2rpc::internal {

ClientTransport::ClientTransport(std::string target, transport::ClientTransportOptions options)
    : queue_(std::make_shared<transport::ClientCommandQueue>()),
      impl_(std::make_unique<transport::ClientTransportImpl>(std::move(target), std::move(options),
                                                             *queue_, connectivity_)) {
  io_thread_ = std::thread([impl = impl_.get()] { impl->Run(); });
}

ClientTransport::~ClientTransport() {
  impl_->RequestShutdown();
  io_thread_.join();
  impl_.reset();
  queue_->Close();
}

void ClientTransport::Start(std::shared_ptr<transport::ClientStreamState> stream) {
  queue_->Submit({transport::ClientCommand::Kind::kStart, std::move(stream), nullptr});
}

transport::Connectivity ClientTransport::GetState(bool try_to_connect) {
  const transport::Connectivity state = connectivity_.Get();
  if (try_to_connect && (state == transport::Connectivity::kIdle ||
                         state == transport::Connectivity::kTransientFailure)) {
    queue_->Submit({transport::ClientCommand::Kind::kConnect, nullptr, nullptr});
  }
  return state;
}

}  // namespace h2rpc::internal
