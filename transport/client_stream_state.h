// ClientStreamState: one client call's state, shared by the caller's threads and the channel's
// I/O thread.
//
// Ownership of every field is fixed (see the section comments): the caller fills the setup part
// before the stream is started, then only the I/O thread writes the results and only the caller
// reads them, each handed over by an atomic flag (release/acquire). Callers block on their call's
// WakeSignal (transport/wake_signal.h), never on a lock shared with other calls.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codec/compression.h"
#include "codec/framing.h"
#include "codec/headers.h"
#include "codec/status.h"
#include "transport/event_loop.h"
#include "transport/mpsc_queue.h"
#include "transport/payload_pieces.h"
#include "transport/wake_signal.h"

namespace h2rpc {
// Same type as rpc/metadata.h's; repeated here so transport/ does not include rpc/.
using Metadata = std::multimap<std::string, std::string>;
}  // namespace h2rpc

namespace h2rpc::transport {

class ClientCommandQueue;
class ClientConnection;

/// FIFO of framed messages waiting for nghttp2: a vector and a read index. Unlike std::deque
/// it allocates nothing until the first message (a deque allocates on construction, i.e. once
/// per call), and a unary call's single message costs one small allocation.
class OutgoingMessages {
 public:
  using Message = std::shared_ptr<const std::string>;
  bool empty() const { return head_ == items_.size(); }
  size_t size() const { return items_.size() - head_; }
  const Message& front() const { return items_[head_]; }
  void push_back(Message message) { items_.push_back(std::move(message)); }
  void pop_front() {
    items_[head_++].reset();
    if (head_ == items_.size()) {
      clear();
    } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
      // Long-lived streams: reclaim the consumed prefix, amortized O(1) per message.
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  /// Keeps only the first `count` queued messages.
  void truncate(size_t count) { items_.resize(head_ + std::min(count, size())); }
  void clear() {
    items_.clear();
    head_ = 0;
  }
  auto begin() const { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() const { return items_.end(); }

 private:
  std::vector<Message> items_;
  size_t head_ = 0;
};

/// One received message waiting for Read(). `wire_size` (prefix + payload as received) is what
/// flow control counts.
struct ReceivedMessage {
  std::string payload;   // decompressed
  PayloadPieces pieces;  // instead of `payload`: a large uncompressed message, by reference
  size_t wire_size = 0;
  bool compressed = false;  // the message's compressed flag on the wire
};

class ClientStreamState : public std::enable_shared_from_this<ClientStreamState> {
 public:
  using Clock = std::chrono::steady_clock;

  ClientStreamState() = default;
  virtual ~ClientStreamState() = default;
  ClientStreamState(const ClientStreamState&) = delete;
  ClientStreamState& operator=(const ClientStreamState&) = delete;

  // ---- Setup: written by the caller before Start, read-only afterwards. ----

  /// "/pkg.Service/Method". `path` views either `owned_path` or, for a unary call whose caller
  /// blocks until the end, the caller's own string.
  std::string owned_path;
  std::string_view path;
  /// Custom metadata in wire form (validated; -bin values base64).
  codec::HeaderList metadata;
  std::optional<Clock::time_point> deadline;
  codec::Compression send_compression = codec::Compression::kIdentity;
  uint32_t max_receive_message_size = 4 * 1024 * 1024;
  uint32_t max_send_message_size = 0x7fffffff;
  uint32_t send_budget = 256 * 1024;
  /// The I/O thread gives stream window back at once while the call's unread bytes stay at or
  /// below this; above it, giving back waits for the reader (see ClientTransport).
  uint32_t consume_threshold = 2 * 1024 * 1024;
  /// A unary call's framed request, sent with the HEADERS (saves a command and an allocation).
  std::string first_message;
  bool has_first_message = false;
  bool half_close_at_start = false;
  /// Waits for the channel to connect (until the deadline) instead of failing UNAVAILABLE
  /// while it cannot; a call already sent still fails when its connection does.
  bool wait_for_ready = false;
  /// Where commands go. `queue_keepalive` is set for streaming calls, whose ClientCall may
  /// outlive the Channel; a unary caller is inside a Channel method, so a raw pointer does.
  ClientCommandQueue* queue = nullptr;
  std::shared_ptr<ClientCommandQueue> queue_keepalive;

  // ---- Caller API (any thread, with the reader/writer rule of ClientCall). ----

  /// Frames (and compresses) one message and queues it. Blocks while more than `send_budget`
  /// bytes wait to be sent. False if the call is over or the size is refused (then the call
  /// ends RESOURCE_EXHAUSTED).
  bool Write(std::string_view message, bool no_compression);
  /// Write() of a message the caller serializes itself: `fill(source, out)` writes exactly
  /// `size` bytes at `out`. Unless the call compresses, they land straight in the frame that
  /// nghttp2 sends (no intermediate copy).
  using FillMessage = void (*)(const void* source, uint8_t* out);
  bool WriteSerialized(size_t size, FillMessage fill, const void* source, bool no_compression);
  bool WritesDone();
  /// Next message; false at the end of the response stream or when the call failed.
  /// `compressed` (optional) receives the message's compressed flag. With `pieces`, a message
  /// that arrived as pieces (large, uncompressed) is handed over as they are and `*message` is
  /// emptied; otherwise `*pieces` is emptied. Without it, pieces are copied into `*message`.
  bool Read(std::string* message, bool* compressed = nullptr, PayloadPieces* pieces = nullptr);
  /// True once initial metadata arrived; false if the call ended without them.
  bool WaitForInitialMetadata();
  /// Ends the call with `why` (RST_STREAM CANCEL if it is on the wire). First caller wins.
  void Cancel(Status why);
  /// Blocks until the call ended. Unread messages are dropped from then on.
  void WaitFinished();
  /// Tells the I/O thread nobody will Read again: it stops keeping messages and returns window
  /// at once (Finish() on a call whose response was not fully read must not stall the server).
  void AbandonReading();

  bool finished() const { return finished_.load(std::memory_order_acquire); }
  /// Valid once finished().
  const Status& status() const { return status_; }
  /// Initial metadata, once (moves them out); empty if they have not arrived.
  bool TakeInitialMetadata(Metadata* out);
  /// Valid once finished().
  Metadata& trailing_metadata() { return trailing_metadata_; }
  /// "ipv4:127.0.0.1:50051" once the call was put on a connection, else "".
  std::string peer() const;

  /// Caller side of starting: finishes a call that never reached the I/O thread.
  void FinishBeforeStart(Status status);

  // ---- I/O-thread side (ClientTransport / ClientConnection only). ----

  /// Stores the final outcome and wakes the caller. `drop_unread`: reads stop at once (local
  /// cancellation / failure) instead of draining what already arrived.
  void Complete(Status status, bool drop_unread) {
    CompleteQuietly(std::move(status), drop_unread);
    WakeCaller();
  }
  // The I/O thread publishes quietly and wakes the caller once per batch of socket input
  // (message + trailers usually arrive together: one wake-up, not two).
  void CompleteQuietly(Status status, bool drop_unread);
  void PublishInitialMetadata(Metadata metadata);
  void PublishPeer(const std::string& peer);
  /// Returns false (and drops the message) if nobody will read it.
  bool DeliverMessage(ReceivedMessage message);
  /// A message buffer the reader is done with (see Read): large ones go to the channel's pool,
  /// where the deframer finds them for the next large message; small ones are freed.
  void ReturnBuffer(std::string&& buffer);
  void WakeCaller() { signal_.Notify(); }
  void WakeCallerInto(WakeBatch& batch) { signal_.NotifyInto(batch); }
  bool reader_abandoned() const { return reader_abandoned_.load(std::memory_order_acquire); }
  bool cancel_requested() const { return cancel_requested_.load(std::memory_order_acquire); }
  /// Valid once cancel_requested().
  const Status& cancel_status() const { return cancel_status_; }
  /// Flow control: the I/O thread asks whether it may give `n` more received bytes back now.
  /// If not, it records that it deferred and the reader sends a Consume command later.
  bool ShouldConsumeNow();
  /// Bytes handed to nghttp2 for the wire: lets a blocked writer continue.
  void OnBytesSent(size_t n);

  /// I/O-thread-only bookkeeping; no other thread touches it.
  struct IoState {
    enum class Phase : uint8_t { kNew, kWaiting, kOpen, kDone };
    Phase phase = Phase::kNew;
    ClientConnection* connection = nullptr;
    int32_t stream_id = -1;
    /// Holds the state alive while nghttp2 may call back for it (released at stream close).
    std::shared_ptr<ClientStreamState> self;
    ClientStreamState* prev = nullptr;  // the connection's list of open streams
    ClientStreamState* next = nullptr;
    EventLoop::TimerId deadline_timer = 0;
    bool wake_pending = false;  // queued for the end-of-batch WakeCaller
    bool deadline_passed = false;
    /// Outgoing framed messages; `front_offset` bytes of the first are already with nghttp2.
    OutgoingMessages outgoing;
    size_t front_offset = 0;
    size_t outgoing_bytes = 0;  // queued, not yet reserved by nghttp2 for a DATA frame
    size_t reserved_bytes = 0;  // reserved for a DATA frame nghttp2 packed, not yet sent
    /// Bytes at the front of `outgoing` not to count against send_budget when they leave: the
    /// unary request (never counted) and, after a retry, what had already been counted once.
    size_t uncounted_bytes = 0;
    size_t wire_bytes = 0;  // message bytes sent on the current stream (retry safety)
    /// Messages that went whole to the wire before the response headers (gRPC's commit point),
    /// kept so a transparent retry can send them again; dropped at the headers, or for good
    /// once they pass kReplayLimit bytes (then a call that sent more cannot be retried).
    OutgoingMessages replay;
    size_t replay_bytes = 0;
    bool replay_overflowed = false;
    uint8_t transparent_retries = 0;  // restarts after a GOAWAY said it was never processed
    bool refused_retried = false;     // the one restart after RST_STREAM(REFUSED_STREAM)
    bool half_close_requested = false;
    bool local_closed = false;   // END_STREAM sent
    bool data_deferred = false;  // nghttp2 is waiting for resume_data
    std::string timeout_header;  // storage for grpc-timeout while HEADERS are pending
    /// Receiving.
    bool got_response_headers = false;
    bool got_trailers = false;
    std::optional<codec::Deframer> deframer;
    PayloadAssembly assembly;  // the deframer's sink: a large message's payload so far
    codec::Compression receive_compression = codec::Compression::kIdentity;
    size_t unconsumed_bytes = 0;  // received, stream window not yet given back
  } io;

 private:
  bool CheckSendSize(size_t size);
  /// Waits for the send budget, then queues one framed message.
  bool SubmitFramed(std::shared_ptr<std::string> framed);
  struct ScopedUse;
  template <class Done>
  void WaitUntil(Done done);

  // Caller → I/O thread.
  std::atomic<bool> cancel_requested_{false};
  std::atomic<bool> cancel_claimed_{false};
  Status cancel_status_;
  std::atomic<bool> writes_done_{false};
  std::atomic<bool> reader_abandoned_{false};
  std::atomic<int64_t> unsent_bytes_{0};
  std::atomic<int64_t> unread_bytes_{0};
  std::atomic<bool> consume_deferred_{false};

  // I/O thread → caller.
  WakeSignal signal_;
  std::atomic<bool> initial_metadata_ready_{false};
  Metadata initial_metadata_;
  bool initial_metadata_taken_ = false;  // caller only
  MpscQueue<ReceivedMessage> messages_;  // one producer (I/O) and one consumer (the reader)
  std::atomic<bool> peer_ready_{false};
  std::string peer_;
  std::atomic<bool> finished_{false};
  bool drop_unread_ = false;
  Status status_;
  Metadata trailing_metadata_;

#ifndef NDEBUG
  // Misuse detectors: two concurrent readers or two concurrent writers on one call.
  std::atomic<bool> reader_busy_{false};
  std::atomic<bool> writer_busy_{false};
#endif
};

}  // namespace h2rpc::transport
