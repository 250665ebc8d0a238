// Server connections and I/O threads: the nghttp2 server session of each connection, the
// command queue its handlers post to, flow control, deadlines and graceful shutdown.
//
// One iteration of an I/O thread: epoll (socket events: read up to 16 chunks of 64 KiB per
// connection, feeding nghttp2), then drain ALL queued commands, then expire deadlines, then let
// nghttp2 produce every frame it can for each connection touched and write them with one
// gather write (writev) where possible.
#include "transport/server_connection.h"

#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <span>

#include "codec/compression.h"
#include "codec/framing.h"
#include "transport/address.h"
#include "transport/session_options.h"

namespace h2rpc::transport {

namespace {

/// Reads and drops what the peer sent that nobody will read (bounded: a few records).
void DiscardUnreadInput(int fd) {
  char scratch[4096];
  for (int i = 0; i < 16; ++i) {
    if (::recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT) <= 0) return;
  }
}

using Clock = std::chrono::steady_clock;

/// Reads per readable event before other connections get their turn.
constexpr int kMaxReadsPerEvent = 16;
/// Payloads up to this size are copied next to their frame header instead of referenced:
/// a copy of a few hundred bytes is cheaper than an extra iovec, and small responses of many
/// calls then coalesce into one buffer (one writev for a whole batch).
constexpr size_t kCopyBelow = 1024;
/// Rounds of "produce, then write" per Pump before yielding to the event loop.
constexpr int kMaxPumpRounds = 8;
/// A finished connection's socket stays half-closed for the client to take our last bytes and
/// send its own: while the kernel still holds bytes the client has not acknowledged, or the
/// client sent something in the last kLingerQuiet; kLingerMax at most.
constexpr auto kLingerQuiet = std::chrono::seconds(1);
constexpr auto kLingerMax = std::chrono::seconds(10);
/// ... and the most it discards beyond the connection window we granted (DATA the client may
/// have sent before it read our resets and GOAWAY): past it, not a client finishing up.
constexpr size_t kLingerBytesBeyondWindow = 256 * 1024;
/// Longest wait for the PING ACKs between the shutdown notice and the final GOAWAY.
constexpr auto kShutdownNoticeRtt = std::chrono::seconds(1);
/// How long the status of a call ended early (deadline, shutdown) may wait behind a partly
/// sent message before the stream is reset instead.
constexpr auto kDeadlineGrace = std::chrono::seconds(1);
constexpr uint8_t kShutdownPing[8] = {'h', '2', 'r', 'p', 'c', 'b', 'y', 'e'};
constexpr uint8_t kShutdownPing2[8] = {'h', '2', 'r', 'p', 'c', 'b', 'y', '2'};

constexpr uint8_t kNoCopy = NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;

void PushNv(std::vector<nghttp2_nv>& nva, std::string_view name, std::string_view value,
            uint8_t flags) {
  nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                 reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                 value.size(), flags});
}

// ---- nghttp2 callbacks: thin forwarders to ServerConnection ----

ServerConnection* Conn(void* user_data) { return static_cast<ServerConnection*>(user_data); }

ssize_t SendCallback(nghttp2_session*, const uint8_t* data, size_t length, int, void* user_data) {
  return Conn(user_data)->OnSend(data, length);
}

int SendDataCallback(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd, size_t length,
                     nghttp2_data_source* source, void* user_data) {
  return Conn(user_data)->OnSendData(frame, framehd, length, source);
}

ssize_t ReadDataCallback(nghttp2_session*, int32_t stream_id, uint8_t*, size_t length,
                         uint32_t* data_flags, nghttp2_data_source* source, void* user_data) {
  return Conn(user_data)->OnReadData(stream_id, length, data_flags, source);
}

int BeginHeadersCallback(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  return Conn(user_data)->OnBeginHeaders(frame);
}

int HeaderCallback(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                   size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                   void* user_data) {
  return Conn(user_data)->OnHeader(frame, name, namelen, value, valuelen);
}

int FrameRecvCallback(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  return Conn(user_data)->OnFrameRecv(frame);
}

int DataChunkCallback(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data,
                      size_t len, void* user_data) {
  return Conn(user_data)->OnDataChunk(flags, stream_id, data, len);
}

int StreamCloseCallback(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
  return Conn(user_data)->OnStreamClose(stream_id, error_code);
}

int FrameSendCallback(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  return Conn(user_data)->OnFrameSend(frame);
}

}  // namespace

/// The callback table shared by every server session (nghttp2 copies it into each session).
void* MakeServerCallbacks() {
  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) return nullptr;
  nghttp2_session_callbacks_set_send_callback(cbs, SendCallback);
  nghttp2_session_callbacks_set_send_data_callback(cbs, SendDataCallback);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, BeginHeadersCallback);
  nghttp2_session_callbacks_set_on_header_callback(cbs, HeaderCallback);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, FrameRecvCallback);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, DataChunkCallback);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, StreamCloseCallback);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, FrameSendCallback);
  return cbs;
}

void FreeServerCallbacks(void* callbacks) {
  nghttp2_session_callbacks_del(static_cast<nghttp2_session_callbacks*>(callbacks));
}

// =====================================================================================
// ServerConnection
// =====================================================================================

ServerConnection::ServerConnection(ServerIoThread* io, uint64_t id, int fd,
                                   std::shared_ptr<const std::string> peer,
                                   std::shared_ptr<const TlsContext> tls)
    : io_(io),
      transport_(io->transport()),
      options_(io->transport()->options()),
      id_(id),
      fd_(fd),
      peer_(std::move(peer)),
      tls_(std::move(tls)) {}

ServerConnection::~ServerConnection() {
  // Close() has run (the I/O thread closes before it frees); this only guards against leaks.
  if (session_ != nullptr) nghttp2_session_del(session_);
  if (fd_ >= 0 && !closed_) ::close(fd_);
}

bool ServerConnection::Start() {
  // Cancelled by the client's first SETTINGS frame, the end of its HTTP/2 preface.
  SetHandshakeDeadline(Clock::now() + options_.handshake_timeout);
  if (!tls_) {
    link_.UsePlain(fd_);
    return StartSession();
  }
  if (!link_.UseTls(fd_, tls_, std::string()).ok()) return false;
  interest_ = EPOLLIN;
  io_->loop().Add(fd_, interest_, [this](uint32_t events) { OnSocketEvent(events); });
  registered_ = true;
  ContinueTlsHandshake();
  return true;
}

void ServerConnection::SetHandshakeDeadline(std::chrono::steady_clock::time_point when) {
  if (handshake_timer_ != 0) io_->loop().CancelTimer(handshake_timer_);
  handshake_timer_ = io_->loop().AddTimer(when, [this] {
    handshake_timer_ = 0;
    Close();  // the client never finished its handshake (or the server is going away)
  });
}

void ServerConnection::ContinueTlsHandshake() {
  uint32_t want = 0;
  switch (link_.Handshake()) {
    case Link::HandshakeResult::kDone: {
      // The deadline runs on: the client's HTTP/2 preface must follow within it.
      peer_identity_ = std::make_shared<const PeerIdentity>(link_.Peer());
      if (!StartSession()) {
        Close();
        return;
      }
      // A client's preface may already sit decrypted in OpenSSL, where epoll cannot see it.
      if (link_.HasBufferedInput()) OnSocketEvent(EPOLLIN);
      return;
    }
    case Link::HandshakeResult::kWantRead:
      want = EPOLLIN;
      break;
    case Link::HandshakeResult::kWantWrite:
      want = EPOLLOUT;
      break;
    case Link::HandshakeResult::kFailed:
      // The client learns OpenSSL's reason from the alert OpenSSL sent. Closing with the
      // client's bytes unread would reset the connection, and a client that is writing would
      // see the reset instead of the alert: take what has arrived, and end with a FIN.
      DiscardUnreadInput(fd_);
      ::shutdown(fd_, SHUT_WR);
      Close();
      return;
  }
  if (want != interest_) {
    interest_ = want;
    io_->loop().Modify(fd_, want);
  }
}

bool ServerConnection::StartSession() {
  SessionOptionPtr option = MakeSessionOptions(options_.limits, /*is_server=*/true);
  const auto* cbs = static_cast<const nghttp2_session_callbacks*>(transport_->callbacks());
  if (nghttp2_session_server_new3(&session_, cbs, this, option.get(), session_allocator_.mem()) !=
      0) {
    session_ = nullptr;
    return false;
  }
  std::vector<nghttp2_settings_entry> settings = MakeSettings(
      options_.limits, /*is_server=*/true, options_.max_concurrent_streams, options_.stream_window);
  for (auto& entry : settings) {
    if (entry.settings_id == NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS) {
      entry.value = ServerEnforcedMaxConcurrentStreams(options_.max_concurrent_streams);
    }
  }
  if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size()) != 0) {
    return false;
  }
  settings_patch_pending_ = true;
  // The connection window starts at 65535 (RFC 9113 §6.9.2) whatever SETTINGS say; without
  // this WINDOW_UPDATE every stream together could receive only 64 KiB per round trip.
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                        static_cast<int32_t>(options_.connection_window));
  if (!registered_) {
    interest_ = EPOLLIN;
    io_->loop().Add(fd_, interest_, [this](uint32_t events) { OnSocketEvent(events); });
    registered_ = true;
  }
  // Started by the client's preface (OnFrameRecv): until then the handshake deadline runs.
  keepalive_ = std::make_unique<ServerKeepalive>(this, options_.keepalive);
  io_->MarkDirty(this);
  return true;
}

// ---- socket ----

bool ServerConnection::ReadingAllowed() const {
  // Stop reading while our output backs up: what we read makes more output (responses, ACKs,
  // RST_STREAMs), and a peer that does not read must not grow our memory (grpc-go does the
  // same). The kernel's receive buffer then fills and the peer is throttled by TCP.
  return !closed_ && output_.size() < options_.limits.max_pending_output &&
         nghttp2_session_want_read(session_) != 0;
}

void ServerConnection::OnSocketEvent(uint32_t events) {
  if (closed_) return;
  if (session_ == nullptr) {  // still in the TLS handshake
    ContinueTlsHandshake();
    return;
  }
  if (events & (EPOLLERR | EPOLLHUP)) {
    // Reset or fully closed by the peer: nothing we send can arrive.
    Close();
    return;
  }
  if (events & EPOLLOUT) {
    if (link_.read_wants_write()) events |= EPOLLIN;  // the last TLS read waits for room
    if (link_.Flush(output_) < 0) {
      Close();
      return;
    }
    io_->MarkDirty(this);
  }
  if (events & EPOLLIN) {
    ReadSlab& slab = io_->read_slab();
    // TLS hands out one record (<= 16 KiB) per read: allow more reads per event.
    const int max_reads = link_.tls() ? 4 * kMaxReadsPerEvent : kMaxReadsPerEvent;
    for (int i = 0; (i < max_reads || link_.HasBufferedInput()) && ReadingAllowed(); ++i) {
      // Bytes the filter held back from the last read (a cut frame header) go first.
      const std::span<uint8_t> room = slab.PrepareRead();  // always far more than `held`
      uint8_t* buffer = room.data();
      const size_t held = idle_resets_.held_size();
      const ssize_t n = link_.Read(buffer + held, room.size() - held);
      if (n > 0) {
        if (i == 0 && keepalive_) keepalive_->OnRead();
        idle_resets_.Prepend(buffer);
        const size_t length = idle_resets_.Filter(buffer, held + static_cast<size_t>(n));
        slab.OnRead(length);
        const ssize_t rv = nghttp2_session_mem_recv(session_, buffer, length);
        slab.FinishRead();
        if (rv < 0) {
          Fail("nghttp2_session_mem_recv", static_cast<int>(rv));
          return;
        }
        if (closed_) return;
        // The socket is drained (a short TLS read is only the end of a record).
        if (!link_.tls() && static_cast<size_t>(n) < room.size() - held) break;
        continue;
      }
      if (n == 0) {  // EOF: HTTP/2 has no half-close of its own, the peer is gone
        Close();
        return;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      Close();
      return;
    }
    io_->MarkDirty(this);
  }
}

void ServerConnection::Fail(const char* what, int rv) {
  (void)what;
  (void)rv;
  // A fatal nghttp2 error (bad preface, flood, callback failure): nghttp2 may have queued a
  // GOAWAY saying why; give it one chance to leave, then drop the connection.
  SendQueuedAndClose();
}

void ServerConnection::SendQueuedAndClose() {
  if (session_ != nullptr && !closed_) {
    nghttp2_session_send(session_);
    link_.Flush(output_);
  }
  Close();
}

void ServerConnection::Pump() {
  if (closed_ || session_ == nullptr) return;
  if (final_goaway_due_) SendFinalGoaway();
  for (int round = 0; round < kMaxPumpRounds; ++round) {
    if (output_.size() < options_.limits.max_pending_output) {
      const int rv = nghttp2_session_send(session_);
      if (rv != 0) {
        Fail("nghttp2_session_send", rv);
        return;
      }
      if (closed_) return;
    }
    if (output_.empty()) break;
    if (link_.Flush(output_) < 0) {
      Close();
      return;
    }
    if (!output_.empty()) break;  // the socket is full: EPOLLOUT brings us back
  }
  if (output_.empty() && nghttp2_session_want_read(session_) == 0 &&
      nghttp2_session_want_write(session_) == 0) {
    // GOAWAY exchanged and no stream left, or nghttp2 ended the session (a flood, a protocol
    // error: no lingering for those).
    Close(/*linger=*/final_goaway_graceful_);
    return;
  }
  UpdateInterest();
  // Reading may have paused (output backed up) with bytes OpenSSL had decrypted already:
  // epoll will not report those once reading resumes, so take them now.
  if (link_.HasBufferedInput() && ReadingAllowed()) OnSocketEvent(EPOLLIN);
}

void ServerConnection::UpdateInterest() {
  uint32_t want = 0;
  if (ReadingAllowed()) want |= EPOLLIN;
  if (!output_.empty() || link_.read_wants_write()) want |= EPOLLOUT;
  if (want != interest_) {
    interest_ = want;
    io_->loop().Modify(fd_, want);
  }
}

void ServerConnection::Close(bool linger) {
  if (closed_) return;
  closed_ = true;
  if (goaway_timer_ != 0) {
    io_->loop().CancelTimer(goaway_timer_);
    goaway_timer_ = 0;
  }
  if (keepalive_) keepalive_->Stop();
  if (handshake_timer_ != 0) {
    io_->loop().CancelTimer(handshake_timer_);
    handshake_timer_ = 0;
  }
  // nghttp2_session_del calls no callback: every call still attached ends here, cancelled.
  while (streams_ != nullptr) {
    ServerStream* s = streams_;
    if (!s->io_end_sent_) MarkCancelled(s);
    Detach(s);
  }
  nghttp2_session_del(session_);
  session_ = nullptr;
  if (registered_) io_->loop().Remove(fd_);
  if (linger && output_.empty()) {
    // TLS clients tell a finished connection from a cut one by the close_notify before the FIN
    // (OpenSSL without SSL_OP_IGNORE_UNEXPECTED_EOF fails the read: "unexpected eof").
    link_.SendCloseNotify();
    io_->Linger(fd_);  // counted as open until the socket closes: Shutdown waits for it
  } else {
    ::close(fd_);
    transport_->OnConnectionClosed();
  }
  output_.Clear();
  io_->RetireConnection(id_);
}

void ServerConnection::ResetCallsAndClose() {
  // A call whose status still waits (behind data the client does not take, or its handler) is
  // reset with CANCEL rather than cut off with the connection: after our GOAWAY(NO_ERROR), HTTP/2
  // clients report a stream closed without status as an error of their own (grpc-js: INTERNAL
  // "Call ended without gRPC status"; found with peers/grpcjs/chaos_client.js stopping the
  // server). RST_STREAM is not flow-controlled, so it can leave even then.
  if (!closed_ && session_ != nullptr) {
    for (ServerStream* s = streams_; s != nullptr; s = s->io_next_) {
      if (!s->io_end_sent_) {
        nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->stream_id_, NGHTTP2_CANCEL);
      }
    }
  }
  SendQueuedAndClose();
}

// ---- streams ----

ServerStream* ServerConnection::StreamFor(int32_t stream_id) {
  return static_cast<ServerStream*>(nghttp2_session_get_stream_user_data(session_, stream_id));
}

void ServerConnection::Attach(const std::shared_ptr<ServerStream>& stream) {
  ServerStream* s = stream.get();
  s->io_conn_ = this;
  s->io_self_ = stream;
  s->io_prev_ = nullptr;
  s->io_next_ = streams_;
  if (streams_ != nullptr) streams_->io_prev_ = s;
  streams_ = s;
  ++stream_count_;
  nghttp2_session_set_stream_user_data(session_, s->stream_id_, s);
}

void ServerConnection::Detach(ServerStream* s) {
  io_->RemoveDeadline(s);
  if (s->io_prev_ != nullptr) s->io_prev_->io_next_ = s->io_next_;
  if (s->io_next_ != nullptr) s->io_next_->io_prev_ = s->io_prev_;
  if (streams_ == s) streams_ = s->io_next_;
  s->io_prev_ = s->io_next_ = nullptr;
  --stream_count_;
  if (stream_count_ == 0 && keepalive_) keepalive_->OnIdle();
  if (session_ != nullptr && !closed_) {
    nghttp2_session_set_stream_user_data(session_, s->stream_id_, nullptr);
  }
  s->io_conn_ = nullptr;
  s->io_assembly_.reset();  // a message cut off by the end of the stream: its slabs go now
  // Released after this loop iteration: never free a stream inside an nghttp2 callback.
  io_->RetireStream(std::move(s->io_self_));
}

void ServerConnection::Refuse(int32_t stream_id) {
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_REFUSED_STREAM);
  transport_->OnStreamRefused();
  io_->MarkDirty(this);
}

void ServerConnection::MarkCancelled(ServerStream* s) {
  s->cancelled_.store(true, std::memory_order_seq_cst);  // Dekker: FireCancelCallback
  s->done_.store(true, std::memory_order_release);
  s->WakeAll();
  s->FireCancelCallback();
}

void ServerConnection::Reset(ServerStream* s, uint32_t error_code) {
  if (s->io_end_submitted_) return;  // our END_STREAM is on its way: let it finish the call
  s->io_end_submitted_ = true;
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->stream_id_, error_code);
  MarkCancelled(s);
  io_->MarkDirty(this);
}

void ServerConnection::Dispatch(ServerStream* s) {
  s->io_dispatched_ = true;
  if (transport_->handler()->Dispatch(s->io_self_)) return;
  // Every handler slot is busy (calls from other connections): refuse. Nothing was processed,
  // so the client may retry (it reports UNAVAILABLE).
  s->io_dispatched_ = false;
  transport_->OnStreamRefused();
  Reset(s, NGHTTP2_REFUSED_STREAM);
}

void ServerConnection::EndWithStatus(ServerStream* s, const Status& status, int http_status) {
  if (TakeOverCall(s)) SubmitStatus(s, status, http_status);
}

bool ServerConnection::TakeOverCall(ServerStream* s) {
  if (s->io_end_submitted_ || s->io_finish_ready_) return false;
  // The first to decide the outcome wins: if the handler already finished, its kFinish command
  // is on the way and carries the status.
  if (s->done_.load(std::memory_order_acquire)) return false;
  // Cancelled is published before done, as MarkCancelled does: a handler whose Read() returns
  // false because of done_ must already see IsCancelled(). If the handler's Finish wins the
  // exchange below, the stray flag is harmless: its call is over.
  s->cancelled_.store(true, std::memory_order_seq_cst);  // Dekker: FireCancelCallback
  if (s->done_.exchange(true, std::memory_order_acq_rel)) return false;
  s->WakeAll();
  s->FireCancelCallback();
  return true;
}

void ServerConnection::SubmitStatus(ServerStream* s, const Status& status, int http_status) {
  s->BuildTrailers(status, nullptr);
  s->io_http_status_ = static_cast<uint16_t>(http_status);
  s->io_finish_ready_ = true;
  SubmitEnd(s, /*include_initial_metadata=*/false);
}

// ---- request side ----

int ServerConnection::OnBeginHeaders(const nghttp2_frame* frame) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  const int32_t id = frame->hd.stream_id;
  if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
    // Request trailers: a new header block, sized on its own.
    if (ServerStream* s = StreamFor(id)) s->io_header_bytes_ = 0;
    return 0;
  }
  // Refuse before any work: beyond the advertised limit on this connection, beyond the handler
  // cap across connections, while the server cancels everything at shutdown, or above the last
  // stream id our final GOAWAY names (nghttp2 accepts new streams until that GOAWAY is written,
  // and the client takes such a stream as never processed: it may send it again elsewhere).
  if (io_->cancelling_all() || stream_count_ >= options_.max_concurrent_streams ||
      transport_->handler()->AtCapacity() || (final_goaway_sent_ && id > final_goaway_last_id_)) {
    Refuse(id);
    return 0;
  }
  header_fields_ = 0;
  std::shared_ptr<ServerStream> stream = transport_->handler()->NewStream();
  stream->stream_id_ = id;
  stream->peer_ = peer_;
  stream->peer_identity_ = peer_identity_;
  stream->io_ = io_;
  stream->send_budget_ = options_.stream_send_budget;
  // Window is withheld while more than this waits unread; a quarter of the stream window,
  // at most 1 MiB: small enough to bound memory, large enough that a reader which keeps up
  // never costs a command per message.
  stream->consume_threshold_ = std::min<size_t>(options_.stream_window / 4, 1024 * 1024);
  Attach(stream);
  return 0;
}

int ServerConnection::OnHeader(const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                               const uint8_t* value, size_t valuelen) {
  ServerStream* s = StreamFor(frame->hd.stream_id);
  if (s == nullptr) return 0;
  // nghttp2 advertises SETTINGS_MAX_HEADER_LIST_SIZE but does not enforce it: count here.
  // Failing with TEMPORAL_CALLBACK_FAILURE resets only this stream and nghttp2 keeps inflating
  // the block, so HPACK stays in sync and the connection lives on.
  s->io_header_bytes_ += namelen + valuelen + 32;
  if (s->io_header_bytes_ > options_.limits.max_header_list_size) {
    s->io_header_overflow_ = true;
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    const std::string_view n(reinterpret_cast<const char*>(name), namelen);
    const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (header_fields_ < header_block_.size()) {
      header_block_[header_fields_].first.assign(n);  // reuses the string's capacity
      header_block_[header_fields_].second.assign(v);
    } else {
      header_block_.emplace_back(n, v);
    }
    ++header_fields_;
  }
  return 0;
}

int ServerConnection::OnFrameRecv(const nghttp2_frame* frame) {
  switch (frame->hd.type) {
    case NGHTTP2_SETTINGS:
      // The client's preface is complete (nghttp2 checked the magic before it).
      if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0 && !preface_received_) {
        preface_received_ = true;
        if (handshake_timer_ != 0) {
          io_->loop().CancelTimer(handshake_timer_);
          handshake_timer_ = 0;
        }
        // The connection's age, idleness and keepalive count from here, as grpc-go's server
        // counts them: a client whose event loop was busy when it connected (grpc-js with 200
        // calls queued) can send its preface and first streams hundreds of milliseconds after
        // we accepted it. Counted from the accept, a short max_connection_age sent the GOAWAY
        // before those streams left the client, which refused them; grpc-js retries a refused
        // call only once, so the calls failed when its next connection began the same way.
        keepalive_->Start();
      }
      break;
    case NGHTTP2_HEADERS: {
      ServerStream* s = StreamFor(frame->hd.stream_id);
      if (s == nullptr || s->io_header_overflow_) return 0;
      if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) OnRequestHeaders(s);
      if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) OnRemoteEnd(s);
      break;
    }
    case NGHTTP2_DATA:
      if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        if (ServerStream* s = StreamFor(frame->hd.stream_id)) OnRemoteEnd(s);
      }
      break;
    case NGHTTP2_PING:
      if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0 && keepalive_ &&
          !keepalive_->OnPingReceived()) {
        break;  // GOAWAY(ENHANCE_YOUR_CALM) is queued; the connection ends with its calls
      }
      if ((frame->hd.flags & NGHTTP2_FLAG_ACK) && shutdown_notice_sent_ && !final_goaway_sent_) {
        // The client opens no stream once it has read the notice, but it may still be writing
        // streams it opened before: gRPC's C core takes the stream id when a call starts and
        // writes the HEADERS in a later write, after the notice's PING ACK (seen with grpcio
        // under max_connection_age, the PING ACK queued behind megabytes of requests). A second
        // PING, sent once the first ACK is read, is answered after those HEADERS were
        // written; its ACK ends the wait. Then the final GOAWAY names the last stream id once
        // the whole read is done (Pump): naming it inside this callback declared streams in the
        // same buffer unprocessed while we processed them. gRPC clients retry a stream a GOAWAY
        // excludes, and grpcio 1.51 can lose a message when it does (a StreamIn call ended OK
        // with one message fewer).
        if (std::memcmp(frame->ping.opaque_data, kShutdownPing, sizeof kShutdownPing) == 0) {
          nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, kShutdownPing2);
        } else if (std::memcmp(frame->ping.opaque_data, kShutdownPing2, sizeof kShutdownPing2) ==
                   0) {
          final_goaway_due_ = true;
        }
      }
      break;
    default:
      break;
  }
  return 0;
}

void ServerConnection::OnRequestHeaders(ServerStream* s) {
  // RFC 9113 §8.2.2: te may only be "trailers"; anything else makes the request malformed, a
  // stream error (what nghttp2's own checks did before we turned them off for the codec's).
  header_block_.resize(header_fields_);
  for (const auto& [name, value] : header_block_) {
    if (name == "te" && value != "trailers") {
      Reset(s, NGHTTP2_PROTOCOL_ERROR);
      return;
    }
  }
  if (std::optional<codec::RequestError> error =
          codec::ValidateRequestHeaders(header_block_, s->head_)) {
    s->head_ = codec::RequestHead{};  // half filled; nothing may read it
    EndWithStatus(s, error->status, error->http_status);
    return;
  }
  if (s->head_.timeout) {
    const std::chrono::nanoseconds timeout = *s->head_.timeout;
    if (timeout <= std::chrono::nanoseconds::zero()) {
      EndWithStatus(s, Status(StatusCode::kDeadlineExceeded,
                              "grpc-timeout of 0: the deadline passed before the call started"));
      return;
    }
    // ParseTimeout clamps to 100 years, so neither sum can overflow.
    s->io_deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout);
    s->system_deadline_ = std::chrono::system_clock::now() +
                          std::chrono::duration_cast<std::chrono::system_clock::duration>(timeout);
    io_->AddDeadline(s);
  }
  RouteResult route = transport_->handler()->Route(*s);
  if (!route.status.ok()) {
    EndWithStatus(s, route.status);
    return;
  }
  const bool compressed =
      s->head_.encoding.has_value() && *s->head_.encoding != codec::Compression::kIdentity;
  s->io_deframer_.emplace(options_.max_receive_message_size, compressed);
  s->io_deframer_->set_hooks(&kDeframerHooks, s);
  s->io_routed_ = true;
  s->io_dispatch_at_end_ = route.dispatch_at_end_of_stream;
  s->io_single_request_ = route.single_request;
  if (!s->io_dispatch_at_end_) Dispatch(s);
}

void ServerConnection::OnRemoteEnd(ServerStream* s) {
  if (s->io_remote_closed_) return;
  s->io_remote_closed_ = true;
  if (!s->io_routed_ || s->io_end_submitted_ || s->io_finish_ready_) return;
  if (Status st = s->io_deframer_->Finish(); !st.ok()) {
    EndWithStatus(s, st);
    return;
  }
  s->recv_closed_.store(true, std::memory_order_release);
  s->recv_word_.Notify();
  if (s->io_dispatch_at_end_ && !s->io_dispatched_) Dispatch(s);
}

int ServerConnection::OnDataChunk(uint8_t, int32_t stream_id, const uint8_t* data, size_t len) {
  // Connection-level window goes back at once (as grpc-go does): per-stream windows bound what
  // each call buffers, and one slow reader must not stall every other call on the connection.
  nghttp2_session_consume_connection(session_, len);
  ServerStream* s = StreamFor(stream_id);
  if (s == nullptr || !s->io_routed_ || s->io_end_submitted_ || s->io_finish_ready_ ||
      s->done_.load(std::memory_order_acquire)) {
    nghttp2_session_consume_stream(session_, stream_id, len);  // nobody will read it
    return 0;
  }
  Deliver(s, data, len);
  return 0;
}

std::string ServerConnection::TakeMessageBuffer(void* stream) {
  return static_cast<ServerStream*>(stream)->io_conn_->transport_->large_buffers()->TakeOrEmpty();
}

void ServerConnection::TakePayloadPiece(void* stream, const uint8_t* data, size_t size) {
  auto* s = static_cast<ServerStream*>(stream);
  if (s->io_assembly_ == nullptr) s->io_assembly_ = std::make_unique<PayloadAssembly>();
  s->io_assembly_->Add(s->io_conn_->io_->read_slab(), data, size);
}

void ServerConnection::Deliver(ServerStream* s, const uint8_t* data, size_t len) {
  codec::Deframer& deframer = *s->io_deframer_;
  std::span<const uint8_t> rest(data, len);
  while (!rest.empty()) {
    const size_t used = deframer.Feed(rest);
    rest = rest.subspan(used);
    bool took = false;
    while (auto message = deframer.Next()) {
      took = true;
      if (s->io_single_request_ && s->io_messages_received_ >= 1) {
        nghttp2_session_consume_stream(session_, s->stream_id_, len);
        EndWithStatus(s, Status(StatusCode::kInternal,
                                "more than one request message for a unary or server-streaming "
                                "method"));
        return;
      }
      ++s->io_messages_received_;
      RequestMessage request;
      request.compressed = message->compressed;
      if (message->in_sink) {
        request.pieces = std::make_unique<PayloadPieces>(s->io_assembly_->Take());
      } else {
        request.payload = std::move(message->payload);
      }
      s->inbox_bytes_.fetch_add(static_cast<int64_t>(request.wire_size()),
                                std::memory_order_seq_cst);
      s->inbox_.Push(std::move(request));
      s->recv_word_.Notify();
    }
    if (deframer.failed()) {
      // Too large (RESOURCE_EXHAUSTED, decided from the prefix before any allocation) or a bad
      // compressed flag (INTERNAL): the call ends with that status, the handler sees Read()
      // return false, and RST_STREAM(NO_ERROR) after the trailers stops the upload.
      nghttp2_session_consume_stream(session_, s->stream_id_, len);
      EndWithStatus(s, deframer.status());
      return;
    }
    if (used == 0 && !took) break;  // cannot happen with a conforming Deframer; never spin
  }
  GiveBackWindow(s, len);
}

void ServerConnection::GiveBackWindow(ServerStream* s, size_t len) {
  // The common case: the handler keeps up, so the window goes back at once and the reader never
  // has to post a command. Otherwise withhold it until the reader drains (kConsume).
  if (s->io_deferred_consume_ == 0 && s->inbox_bytes_.load(std::memory_order_seq_cst) <
                                          static_cast<int64_t>(s->consume_threshold_)) {
    nghttp2_session_consume_stream(session_, s->stream_id_, len);
    return;
  }
  s->io_deferred_consume_ += len;
  ReleaseDeferredWindow(s);
}

void ServerConnection::ReleaseDeferredWindow(ServerStream* s) {
  if (s->io_deferred_consume_ == 0) return;
  const auto threshold = static_cast<int64_t>(s->consume_threshold_);
  if (s->inbox_bytes_.load(std::memory_order_seq_cst) >= threshold) {
    // Ask the reader to tell us when it drained; re-check in case it just did (Dekker with
    // ServerStream::Read).
    s->consume_wanted_.store(true, std::memory_order_seq_cst);
    if (s->inbox_bytes_.load(std::memory_order_seq_cst) >= threshold ||
        !s->consume_wanted_.exchange(false, std::memory_order_seq_cst)) {
      return;
    }
  }
  nghttp2_session_consume_stream(session_, s->stream_id_, s->io_deferred_consume_);
  s->io_deferred_consume_ = 0;
  io_->MarkDirty(this);
}

int ServerConnection::OnStreamClose(int32_t stream_id, uint32_t) {
  ServerStream* s = StreamFor(stream_id);
  if (s == nullptr) return 0;
  // Closed before our END_STREAM left: the client reset it, our RST_STREAM went out, or the
  // stream was refused. A running handler sees IsCancelled() and Read/Write return false.
  if (!s->io_end_sent_) MarkCancelled(s);
  Detach(s);
  return 0;
}

int ServerConnection::OnFrameSend(const nghttp2_frame* frame) {
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && keepalive_) {
    keepalive_->OnHeadersOrDataSent();
  }
  if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) {
    return 0;
  }
  ServerStream* s = StreamFor(frame->hd.stream_id);
  if (s == nullptr) return 0;
  s->io_end_sent_ = true;
  if (!s->io_remote_closed_) {
    // The response is complete but the client is still sending: ask it to stop, without error
    // (RFC 9113 §8.1; grpc-go does the same).
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->stream_id_, NGHTTP2_NO_ERROR);
  }
  return 0;
}

// ---- response side ----

void ServerConnection::OnStreamCommand(ServerCommand& command) {
  ServerStream* s = command.stream.get();
  switch (command.type) {
    case ServerCommandType::kSendHeaders:
      if (!s->io_end_submitted_ && !s->io_finish_ready_ && !s->io_headers_submitted_) {
        SubmitResponseHeaders(s);
      }
      break;
    case ServerCommandType::kSendMessage:
      if (s->io_end_submitted_ || s->io_finish_ready_) {
        // The call ended (reset, deadline, transport error) while the message was queued.
        s->send_queued_.fetch_sub(static_cast<int64_t>(command.data->size()),
                                  std::memory_order_acq_rel);
        break;
      }
      AppendMessage(s, std::move(command.data));
      break;
    case ServerCommandType::kFinish:
      if (s->io_end_submitted_ || s->io_finish_ready_) break;
      if (command.data) AppendMessage(s, std::move(command.data));
      s->io_finish_ready_ = true;
      SubmitEnd(s, /*include_initial_metadata=*/true);
      break;
    case ServerCommandType::kConsume:
      ReleaseDeferredWindow(s);
      break;
    default:
      break;
  }
  io_->MarkDirty(this);
}

void ServerConnection::SubmitResponseHeaders(ServerStream* s) {
  nv_scratch_.clear();
  PushNv(nv_scratch_, ":status", "200", kNoCopy);
  PushNv(nv_scratch_, "content-type", "application/grpc", kNoCopy);
  if (!s->response_encoding_.empty()) {
    PushNv(nv_scratch_, "grpc-encoding", s->response_encoding_, kNoCopy);
  }
  PushNv(nv_scratch_, "grpc-accept-encoding", codec::SupportedEncodingsHeader(), kNoCopy);
  for (const auto& [name, value] : s->response_metadata_) {
    PushNv(nv_scratch_, name, value, NGHTTP2_NV_FLAG_NONE);
  }
  const int rv = nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, s->stream_id_, nullptr,
                                        nv_scratch_.data(), nv_scratch_.size(), nullptr);
  s->io_headers_submitted_ = true;
  if (rv != 0) Reset(s, NGHTTP2_INTERNAL_ERROR);
}

void ServerConnection::AppendMessage(ServerStream* s, std::shared_ptr<const std::string> framed) {
  s->io_outbox_bytes_ += framed->size();
  s->io_outbox_.push_back(std::move(framed));
  if (!s->io_headers_submitted_) SubmitResponseHeaders(s);
  if (s->io_end_submitted_) return;
  if (!s->io_data_attached_) {
    nghttp2_data_provider provider{};
    provider.source.ptr = s;
    provider.read_callback = ReadDataCallback;
    // Flags NONE: DATA never carries END_STREAM; the trailers end the stream.
    if (nghttp2_submit_data(session_, NGHTTP2_FLAG_NONE, s->stream_id_, &provider) != 0) {
      Reset(s, NGHTTP2_INTERNAL_ERROR);
      return;
    }
    s->io_data_attached_ = true;
  } else {
    ResumeData(s);
  }
}

void ServerConnection::DropUnframedMessages(ServerStream* s) {
  // Keep the message being framed and any bytes nghttp2 was promised for a DATA frame it has
  // not handed to OnSendData yet (that frame's length is fixed).
  const size_t must_keep = s->io_outbox_offset_ + s->io_outbox_promised_;
  size_t keep = s->io_outbox_head_;
  for (size_t covered = 0; covered < must_keep && keep < s->io_outbox_.size(); ++keep) {
    covered += s->io_outbox_[keep]->size();
  }
  if (keep >= s->io_outbox_.size()) return;
  size_t dropped = 0;
  for (size_t i = keep; i < s->io_outbox_.size(); ++i) dropped += s->io_outbox_[i]->size();
  s->io_outbox_.resize(keep);
  if (s->io_outbox_head_ == keep) {  // nothing partly framed is left
    s->io_outbox_.clear();
    s->io_outbox_head_ = 0;
  }
  s->io_outbox_bytes_ -= dropped;
  s->send_queued_.fetch_sub(static_cast<int64_t>(dropped), std::memory_order_acq_rel);
}

void ServerConnection::ResumeData(ServerStream* s) {
  if (!s->io_data_deferred_) return;
  s->io_data_deferred_ = false;
  nghttp2_session_resume_data(session_, s->stream_id_);
}

void ServerConnection::SubmitEnd(ServerStream* s, bool include_initial_metadata) {
  if (s->io_end_submitted_) return;
  io_->MarkDirty(this);
  if (s->io_data_attached_ && s->io_outbox_bytes_ > 0) {
    ResumeData(s);  // OnReadData sends the trailers once the outbox is empty
    return;
  }
  nv_scratch_.clear();
  int rv = 0;
  if (!s->io_headers_submitted_) {
    // Trailers-Only: one HEADERS frame with END_STREAM carrying status and trailers.
    // A non-200 :status lives in the stream; nghttp2 copies it (the stream may go first).
    char status_text[8];
    if (s->io_http_status_ == 200) {
      PushNv(nv_scratch_, ":status", "200", kNoCopy);
    } else {
      const int n = std::snprintf(status_text, sizeof status_text, "%u", s->io_http_status_);
      PushNv(nv_scratch_, ":status", std::string_view(status_text, static_cast<size_t>(n)),
             NGHTTP2_NV_FLAG_NO_COPY_NAME);  // value copied by nghttp2 before submit returns
    }
    PushNv(nv_scratch_, "content-type", "application/grpc", kNoCopy);
    PushNv(nv_scratch_, "grpc-accept-encoding", codec::SupportedEncodingsHeader(), kNoCopy);
    if (include_initial_metadata) {
      for (const auto& [name, value] : s->response_metadata_) {
        PushNv(nv_scratch_, name, value, NGHTTP2_NV_FLAG_NONE);
      }
    }
    for (const auto& [name, value] : s->trailers_) {
      PushNv(nv_scratch_, name, value, NGHTTP2_NV_FLAG_NONE);
    }
    s->io_headers_submitted_ = true;
    rv = nghttp2_submit_response(session_, s->stream_id_, nv_scratch_.data(), nv_scratch_.size(),
                                 nullptr);
  } else {
    for (const auto& [name, value] : s->trailers_) {
      PushNv(nv_scratch_, name, value, NGHTTP2_NV_FLAG_NONE);
    }
    rv = nghttp2_submit_trailer(session_, s->stream_id_, nv_scratch_.data(), nv_scratch_.size());
  }
  if (rv != 0) {
    Reset(s, NGHTTP2_INTERNAL_ERROR);
    return;
  }
  s->io_end_submitted_ = true;
}

ssize_t ServerConnection::OnReadData(int32_t stream_id, size_t length, uint32_t* data_flags,
                                     nghttp2_data_source* source) {
  auto* s = static_cast<ServerStream*>(source->ptr);
  if (s->io_end_submitted_) {
    // The trailers went without us (nothing was left to send); nghttp2 drops this DATA once
    // they have ended the stream.
    *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    return 0;
  }
  const size_t n = std::min(length, s->io_outbox_bytes_);
  s->io_outbox_promised_ = n;
  if (n == 0 && !s->io_finish_ready_) {
    s->io_data_deferred_ = true;  // kSendMessage / kFinish resume us
    return NGHTTP2_ERR_DEFERRED;
  }
  *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;  // OnSendData writes frame header + references
  if (n == s->io_outbox_bytes_ && s->io_finish_ready_) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    nv_scratch_.clear();
    for (const auto& [name, value] : s->trailers_) {
      PushNv(nv_scratch_, name, value, NGHTTP2_NV_FLAG_NONE);
    }
    if (nghttp2_submit_trailer(session_, stream_id, nv_scratch_.data(), nv_scratch_.size()) != 0) {
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets the stream
    }
    s->io_end_submitted_ = true;
  }
  return static_cast<ssize_t>(n);
}

int ServerConnection::OnSendData(nghttp2_frame* frame, const uint8_t* framehd, size_t length,
                                 nghttp2_data_source* source) {
  if (output_.size() >= options_.limits.max_pending_output) return NGHTTP2_ERR_WOULDBLOCK;
  auto* s = static_cast<ServerStream*>(source->ptr);
  output_.AppendCopy(framehd, 9);
  const size_t padlen = frame->data.padlen;  // includes the pad length byte; 0 unless padded
  if (padlen > 0) {
    const uint8_t pad_length = static_cast<uint8_t>(padlen - 1);
    output_.AppendCopy(&pad_length, 1);
  }
  size_t left = length;
  while (left > 0) {
    std::shared_ptr<const std::string>& message = s->io_outbox_[s->io_outbox_head_];
    const size_t take = std::min(left, message->size() - s->io_outbox_offset_);
    const char* start = message->data() + s->io_outbox_offset_;
    if (take < kCopyBelow) {
      output_.AppendCopy(reinterpret_cast<const uint8_t*>(start), take);
    } else {
      output_.AppendRef(message, start, take);  // no copy: the kernel reads the handler's bytes
    }
    s->io_outbox_offset_ += take;
    left -= take;
    if (s->io_outbox_offset_ == message->size()) {
      message.reset();
      ++s->io_outbox_head_;
      s->io_outbox_offset_ = 0;
    }
  }
  if (s->io_outbox_head_ == s->io_outbox_.size()) {
    s->io_outbox_.clear();
    s->io_outbox_head_ = 0;
  }
  s->io_outbox_bytes_ -= length;
  s->io_outbox_promised_ = 0;
  if (padlen > 1) {
    static constexpr uint8_t kZeros[256] = {};
    output_.AppendCopy(kZeros, padlen - 1);
  }
  // These bytes are framed: a writer blocked on the send budget may continue.
  const auto budget = static_cast<int64_t>(s->send_budget_);
  const int64_t old =
      s->send_queued_.fetch_sub(static_cast<int64_t>(length), std::memory_order_acq_rel);
  if (old >= budget && old - static_cast<int64_t>(length) < budget) s->send_word_.Notify();
  return 0;
}

ssize_t ServerConnection::OnSend(const uint8_t* data, size_t length) {
  if (output_.size() >= options_.limits.max_pending_output) return NGHTTP2_ERR_WOULDBLOCK;
  if (settings_patch_pending_) {
    settings_patch_pending_ = false;
    // Our first frame is the SETTINGS submitted in Start(). nghttp2 enforces
    // ServerEnforcedMaxConcurrentStreams; the peer is told the real limit (see that function).
    if (length >= 9 && data[3] == NGHTTP2_SETTINGS && (data[4] & NGHTTP2_FLAG_ACK) == 0) {
      std::string frame(reinterpret_cast<const char*>(data), length);
      const uint32_t advertised = options_.max_concurrent_streams;
      for (size_t off = 9; off + 6 <= length; off += 6) {
        const unsigned id =
            (static_cast<uint8_t>(frame[off]) << 8) | static_cast<uint8_t>(frame[off + 1]);
        if (id == NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS) {
          frame[off + 2] = static_cast<char>(advertised >> 24);
          frame[off + 3] = static_cast<char>(advertised >> 16);
          frame[off + 4] = static_cast<char>(advertised >> 8);
          frame[off + 5] = static_cast<char>(advertised);
        }
      }
      output_.AppendCopy(reinterpret_cast<const uint8_t*>(frame.data()), length);
      return static_cast<ssize_t>(length);
    }
  }
  output_.AppendCopy(data, length);
  return static_cast<ssize_t>(length);
}

// ---- deadlines and shutdown ----

void ServerConnection::OnDeadline(ServerStream* s) {
  if (s->io_end_submitted_) return;
  if (!s->io_dispatched_) {
    // No handler ran: answer with the status itself.
    EndWithStatus(s, Status(StatusCode::kDeadlineExceeded,
                            "deadline exceeded before the request was complete"));
    return;
  }
  if (s->io_end_grace_armed_) {
    // The status still waits behind a message the client does not take.
    Reset(s, NGHTTP2_CANCEL);
    return;
  }
  EndEarly(s, Status(StatusCode::kDeadlineExceeded, "deadline exceeded"));
}

void ServerConnection::EndEarly(ServerStream* s, const Status& status) {
  // The status goes in trailers, as grpc++, grpc-go and tonic send it, not as a bare
  // RST_STREAM(CANCEL): the client reports this status rather than CANCELLED, and Node.js's
  // HTTP/2 client (grpc-js) can spin forever in its send loop when a reset closes a stream whose
  // request body it is still sending (found with peers/grpcjs/chaos_client.js: 1 run in 3 hung).
  // Messages not yet on the wire are dropped (only once the handler can no longer finish with a
  // status that claims them); one already partly sent is completed, so that the trailers follow
  // whole messages.
  if (TakeOverCall(s)) {
    DropUnframedMessages(s);
    SubmitStatus(s, status, 200);
  }
  // Otherwise the handler finished first and its own status is on the way. Either way, a client
  // that takes no more bytes is reset after a grace period (OnDeadline again).
  if (!s->io_end_submitted_ && !s->io_end_grace_armed_) {
    s->io_end_grace_armed_ = true;
    io_->RemoveDeadline(s);
    s->io_deadline_ = Clock::now() + kDeadlineGrace;
    io_->AddDeadline(s);
  }
}

void ServerConnection::BeginShutdown() {
  BeginGracefulGoaway(std::min(Clock::now() + kShutdownNoticeRtt, transport_->final_goaway_by()),
                      "");
}

void ServerConnection::BeginGracefulGoaway(Clock::time_point by, const char* debug) {
  if (closed_ || shutdown_notice_sent_ || final_goaway_sent_) return;
  if (session_ == nullptr) {
    // Mid TLS handshake: no call to let finish. Closed from a timer, since our caller may be
    // walking the connection map.
    SetHandshakeDeadline(Clock::now());
    return;
  }
  goaway_debug_ = debug;
  if (by <= Clock::now()) {
    SendFinalGoaway();
    return;
  }
  // GOAWAY(2^31-1) tells the client to stop opening streams; streams already on the wire are
  // still accepted. One PING round trip later the final GOAWAY names the last one we process.
  nghttp2_submit_shutdown_notice(session_);
  nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, kShutdownPing);
  shutdown_notice_sent_ = true;
  goaway_timer_ = io_->loop().AddTimer(by, [this] {
    goaway_timer_ = 0;
    SendFinalGoaway();
    Pump();
  });
  io_->MarkDirty(this);
}

void ServerConnection::SendFinalGoaway() {
  final_goaway_due_ = false;
  if (closed_ || final_goaway_sent_) return;
  if (session_ == nullptr) {
    // Mid TLS handshake: no call to let finish. Closed from a timer, since our caller may be
    // walking the connection map.
    SetHandshakeDeadline(Clock::now());
    return;
  }
  if (goaway_timer_ != 0) {
    io_->loop().CancelTimer(goaway_timer_);
    goaway_timer_ = 0;
  }
  SubmitFinalGoaway(NGHTTP2_NO_ERROR, goaway_debug_);
  io_->MarkDirty(this);
}

void ServerConnection::SubmitFinalGoaway(uint32_t error_code, std::string_view debug) {
  final_goaway_last_id_ = nghttp2_session_get_last_proc_stream_id(session_);
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, final_goaway_last_id_, error_code,
                        reinterpret_cast<const uint8_t*>(debug.data()), debug.size());
  final_goaway_sent_ = true;
  final_goaway_graceful_ = error_code == NGHTTP2_NO_ERROR;
  final_goaway_due_ = false;
}

void ServerConnection::CancelAll() {
  EndRunningCalls(Status(StatusCode::kUnavailable, "server shutting down"));
}

void ServerConnection::EndRunningCalls(const Status& status) {
  if (closed_) return;
  SendFinalGoaway();
  for (ServerStream* s = streams_; s != nullptr; s = s->io_next_) {
    if (!s->io_end_sent_) EndEarly(s, status);
  }
  io_->MarkDirty(this);
}

// =====================================================================================
// ServerIoThread
// =====================================================================================

ServerIoThread::ServerIoThread(ServerTransport* transport)
    : transport_(transport), read_slab_(transport->options().limits.read_chunk) {}

ServerIoThread::~ServerIoThread() { Join(); }

void ServerIoThread::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ServerIoThread::Join() {
  if (thread_.joinable()) thread_.join();
}

void ServerIoThread::AddListener(int fd, std::shared_ptr<const TlsContext> tls) {
  listeners_.push_back(fd);
  loop_.Add(fd, EPOLLIN, [this, fd, tls = std::move(tls)](uint32_t) { AcceptAll(fd, tls); });
}

void ServerIoThread::AddConnection(int fd, std::shared_ptr<const std::string> peer,
                                   std::shared_ptr<const TlsContext> tls) {
  const uint64_t id = next_connection_id_++;
  auto owned = std::make_unique<ServerConnection>(this, id, fd, std::move(peer), std::move(tls));
  ServerConnection* conn = owned.get();
  connections_.emplace(id, std::move(owned));
  transport_->OnConnectionOpened();
  if (!conn->Start()) {
    conn->Close();
    return;
  }
  if (shutting_down_) conn->BeginShutdown();
  if (cancel_all_) conn->CancelAll();
}

void ServerIoThread::AcceptAll(int listen_fd, const std::shared_ptr<const TlsContext>& tls) {
  for (int i = 0; i < 256; ++i) {
    SocketAddress peer;
    const int fd = AcceptConnection(listen_fd, &peer);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors or memory: a level-triggered listener would spin. Pause it briefly;
        // pending connections wait in the backlog.
        loop_.Modify(listen_fd, 0);
        loop_.AddTimer(Clock::now() + std::chrono::milliseconds(100), [this, listen_fd] {
          if (std::find(listeners_.begin(), listeners_.end(), listen_fd) != listeners_.end()) {
            loop_.Modify(listen_fd, EPOLLIN);
          }
        });
        return;
      }
      continue;  // ECONNABORTED and the like concern one connection only
    }
    auto peer_text = std::make_shared<const std::string>(peer.ToString());
    ServerIoThread* target = transport_->NextIoThread();
    if (target == this) {
      AddConnection(fd, std::move(peer_text), tls);
    } else {
      target->Post(
          ServerCommand{ServerCommandType::kNewConnection, fd, nullptr, std::move(peer_text), tls});
    }
  }
}

void ServerIoThread::MarkDirty(ServerConnection* conn) {
  if (conn->dirty_) return;
  conn->dirty_ = true;
  dirty_.push_back(conn);
}

void ServerIoThread::RetireConnection(uint64_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  dead_connections_.push_back(std::move(it->second));
  connections_.erase(it);
}

void ServerIoThread::Linger(int fd) {
  // Closing a socket with unread bytes, or that bytes reach later, makes the kernel answer with
  // a TCP reset. The client's bytes still in flight at our end (WINDOW_UPDATEs for what we sent,
  // resets of streams we finished, requests written before our GOAWAY was read) would do that;
  // the reset then fails the client's next write, and gRPC clients fail every call on the
  // connection, also calls whose responses had arrived but were not read yet (grpcio against
  // max_connection_age: "Broken pipe", "Connection reset by peer"). A FIN queues behind our data.
  if (::shutdown(fd, SHUT_WR) != 0) {
    ::close(fd);
    transport_->OnConnectionClosed();
    return;
  }
  loop_.Add(fd, EPOLLIN, [this, fd](uint32_t) { DrainLingering(fd); });
  const auto now = std::chrono::steady_clock::now();
  Lingering& state = lingering_[fd];
  state.until = now + kLingerMax;
  state.timer = loop_.AddTimer(now + kLingerQuiet, [this, fd] { OnLingerTimer(fd); });
}

void ServerIoThread::DrainLingering(int fd) {
  Lingering& state = lingering_[fd];
  const size_t bound = transport_->options().connection_window + kLingerBytesBeyondWindow;
  uint8_t sink[16384];  // discarded: the session that would read these bytes is gone
  for (int i = 0; i < kMaxReadsPerEvent; ++i) {
    const ssize_t n = ::recv(fd, sink, sizeof sink, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // all taken; more may come
    if (n <= 0) break;  // EOF: the client closed too; or an error
    state.discarded += static_cast<size_t>(n);
    if (state.discarded > bound) break;      // not a client finishing up: let it be reset
    if (i + 1 == kMaxReadsPerEvent) return;  // fair to other sockets: the rest next time
  }
  EndLinger(fd);
}

void ServerIoThread::OnLingerTimer(int fd) {
  auto it = lingering_.find(fd);
  if (it == lingering_.end()) return;
  Lingering& state = it->second;
  state.timer = 0;
  // A client slow to read (a busy machine, megabytes of responses in the socket buffers) is
  // still taking our last bytes: closing now would reset it when it next writes, and the reset
  // throws away what it has not read yet.
  int unacknowledged = 0;
  if (::ioctl(fd, SIOCOUTQ, &unacknowledged) != 0) unacknowledged = 0;
  const bool client_active = unacknowledged > 0 || state.discarded != state.discarded_at_last_timer;
  const auto now = std::chrono::steady_clock::now();
  if (client_active && now < state.until) {
    state.discarded_at_last_timer = state.discarded;
    state.timer = loop_.AddTimer(std::min(now + kLingerQuiet, state.until),
                                 [this, fd] { OnLingerTimer(fd); });
    return;
  }
  EndLinger(fd);
}

void ServerIoThread::EndLinger(int fd) {
  auto it = lingering_.find(fd);
  if (it == lingering_.end()) return;
  if (it->second.timer != 0) loop_.CancelTimer(it->second.timer);
  lingering_.erase(it);
  loop_.Remove(fd);
  ::close(fd);
  transport_->OnConnectionClosed();
}

void ServerIoThread::HandleCommand(ServerCommand& command) {
  switch (command.type) {
    case ServerCommandType::kSendHeaders:
    case ServerCommandType::kSendMessage:
    case ServerCommandType::kFinish:
    case ServerCommandType::kConsume: {
      ServerConnection* conn = command.stream->io_conn_;
      if (conn == nullptr || conn->closed()) return;  // the stream is gone; nobody to tell
      conn->OnStreamCommand(command);
      return;
    }
    case ServerCommandType::kNewConnection:
      AddConnection(command.fd, std::move(command.data), std::move(command.tls));
      return;
    case ServerCommandType::kBeginShutdown:
      shutting_down_ = true;
      for (int fd : listeners_) {
        loop_.Remove(fd);
        ::close(fd);
      }
      listeners_.clear();
      for (auto& [id, conn] : connections_) conn->BeginShutdown();
      return;
    case ServerCommandType::kCancelAll:
      cancel_all_ = true;
      for (auto& [id, conn] : connections_) conn->CancelAll();
      return;
    case ServerCommandType::kStop:
      stop_ = true;
      return;
  }
}

void ServerIoThread::Run() {
  const auto has_work = [this] { return !queue_.Empty(); };
  loop_.set_poll_before_sleep(transport_->options().poll_before_sleep);
  while (!stop_) {
    loop_.RunOnce(NextWait(), has_work);
    while (auto command = queue_.TryPop()) HandleCommand(*command);
    ExpireDeadlines();
    for (size_t i = 0; i < dirty_.size(); ++i) {
      ServerConnection* conn = dirty_[i];
      conn->dirty_ = false;
      conn->Pump();
    }
    dirty_.clear();
    dead_connections_.clear();
    stream_graveyard_.clear();
  }
  // Stop: every remaining call is cancelled with its connection.
  std::vector<ServerConnection*> open;
  for (auto& [id, conn] : connections_) open.push_back(conn.get());
  for (ServerConnection* conn : open) conn->ResetCallsAndClose();
  dirty_.clear();
  dead_connections_.clear();
  stream_graveyard_.clear();
  for (int fd : listeners_) {
    loop_.Remove(fd);
    ::close(fd);
  }
  listeners_.clear();
  while (!lingering_.empty()) EndLinger(lingering_.begin()->first);
  // Commands still queued (handlers finishing late) are dropped with their references.
  while (queue_.TryPop()) {
  }
}

std::chrono::milliseconds ServerIoThread::NextWait() const {
  constexpr std::chrono::milliseconds kIdleWait(1000);
  if (deadlines_.empty()) return kIdleWait;
  const auto until = deadlines_.front()->io_deadline_ - Clock::now();
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(until);
  if (ms <= std::chrono::milliseconds::zero()) return std::chrono::milliseconds::zero();
  return std::min(ms, kIdleWait);
}

void ServerIoThread::ExpireDeadlines() {
  if (deadlines_.empty()) return;
  const auto now = Clock::now();
  while (!deadlines_.empty() && deadlines_.front()->io_deadline_ <= now) {
    ServerStream* s = deadlines_.front();
    RemoveDeadline(s);
    if (s->io_conn_ != nullptr) s->io_conn_->OnDeadline(s);
  }
}

// Binary min-heap of streams by deadline, with each stream's index kept in the stream so that
// a finished call leaves the heap at once (no stale entries piling up under load).
void ServerIoThread::HeapSwap(size_t a, size_t b) {
  std::swap(deadlines_[a], deadlines_[b]);
  deadlines_[a]->io_deadline_index_ = a;
  deadlines_[b]->io_deadline_index_ = b;
}

void ServerIoThread::HeapUp(size_t i) {
  while (i > 0) {
    const size_t parent = (i - 1) / 2;
    if (deadlines_[parent]->io_deadline_ <= deadlines_[i]->io_deadline_) break;
    HeapSwap(i, parent);
    i = parent;
  }
}

void ServerIoThread::HeapDown(size_t i) {
  const size_t n = deadlines_.size();
  for (;;) {
    size_t smallest = i;
    const size_t l = 2 * i + 1;
    const size_t r = l + 1;
    if (l < n && deadlines_[l]->io_deadline_ < deadlines_[smallest]->io_deadline_) smallest = l;
    if (r < n && deadlines_[r]->io_deadline_ < deadlines_[smallest]->io_deadline_) smallest = r;
    if (smallest == i) return;
    HeapSwap(i, smallest);
    i = smallest;
  }
}

void ServerIoThread::AddDeadline(ServerStream* s) {
  s->io_deadline_index_ = deadlines_.size();
  deadlines_.push_back(s);
  HeapUp(s->io_deadline_index_);
}

void ServerIoThread::RemoveDeadline(ServerStream* s) {
  const size_t i = s->io_deadline_index_;
  if (i >= deadlines_.size() || deadlines_[i] != s) return;
  const size_t last = deadlines_.size() - 1;
  if (i != last) HeapSwap(i, last);
  deadlines_.pop_back();
  s->io_deadline_index_ = std::numeric_limits<size_t>::max();
  if (i < deadlines_.size()) {
    HeapDown(i);
    HeapUp(i);
  }
}

}  // namespace h2rpc::transport
