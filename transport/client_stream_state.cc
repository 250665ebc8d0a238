#include "transport/client_stream_state.h"

#include <algorithm>
#include <cassert>
#include <climits>
#include <cstdio>
#include <cstring>
#include <utility>

#include "transport/client_transport.h"

namespace h2rpc::transport {

// Catches two threads reading (or two writing) one call at once, in debug builds: a misuse the
// API documents, which would otherwise corrupt the single-consumer message queue silently.
struct ClientStreamState::ScopedUse {
#ifndef NDEBUG
  ScopedUse(std::atomic<bool>& busy, const char* role) : busy_(busy) {
    if (busy_.exchange(true, std::memory_order_acquire)) {
      std::fprintf(stderr, "h2rpc: two threads are %s the same ClientCall at once\n", role);
      assert(false && "concurrent readers or concurrent writers on one ClientCall");
    }
  }
  ~ScopedUse() { busy_.store(false, std::memory_order_release); }
  std::atomic<bool>& busy_;
#endif
};

#ifndef NDEBUG
#define H2RPC_SCOPED_USE(flag, role) ScopedUse scoped_use_(flag, role)
#else
#define H2RPC_SCOPED_USE(flag, role) \
  do {                               \
  } while (false)
#endif

template <class Done>
void ClientStreamState::WaitUntil(Done done) {
  for (;;) {
    // Snapshot first: a change after it bumps the sequence, so Wait cannot miss it.
    const uint32_t seen = signal_.Snapshot();
    if (done()) return;
    signal_.Wait(seen);
  }
}

bool ClientStreamState::CheckSendSize(size_t size) {
  // The frame prefix holds 32 bits, whatever the configured limit says.
  if (size <= max_send_message_size && size <= UINT32_MAX) return true;
  Cancel(
      Status(StatusCode::kResourceExhausted, "trying to send a message of " + std::to_string(size) +
                                                 " bytes, larger than the maximum send size of " +
                                                 std::to_string(max_send_message_size) + " bytes"));
  return false;
}

bool ClientStreamState::Write(std::string_view message, bool no_compression) {
  H2RPC_SCOPED_USE(writer_busy_, "writing");
  if (finished() || writes_done_.load(std::memory_order_relaxed)) return false;
  if (!CheckSendSize(message.size())) return false;
  const bool compress = send_compression != codec::Compression::kIdentity && !no_compression;
  StatusOr<std::string> compressed = std::string();
  std::string_view payload = message;
  if (compress) {
    compressed = codec::Compress(send_compression, message);
    if (!compressed.ok()) {
      Cancel(compressed.status());
      return false;
    }
    payload = *compressed;
  }
  // Prefix and payload in one buffer: nghttp2 sends it by reference (NGHTTP2_DATA_FLAG_NO_COPY)
  // and the shared_ptr keeps it alive until the kernel took every byte.
  auto framed = std::make_shared<std::string>();
  framed->resize(codec::kFramePrefixSize + payload.size());
  codec::EncodeFramePrefix(compress, static_cast<uint32_t>(payload.size()),
                           reinterpret_cast<uint8_t*>(framed->data()));
  if (!payload.empty()) {
    std::memcpy(framed->data() + codec::kFramePrefixSize, payload.data(), payload.size());
  }
  return SubmitFramed(std::move(framed));
}

bool ClientStreamState::WriteSerialized(size_t size, FillMessage fill, const void* source,
                                        bool no_compression) {
  if (send_compression != codec::Compression::kIdentity && !no_compression) {
    if (!CheckSendSize(size)) return false;
    std::string bytes(size, '\0');  // compression needs the serialized bytes first
    fill(source, reinterpret_cast<uint8_t*>(bytes.data()));
    return Write(bytes, no_compression);
  }
  H2RPC_SCOPED_USE(writer_busy_, "writing");
  if (finished() || writes_done_.load(std::memory_order_relaxed)) return false;
  if (!CheckSendSize(size)) return false;
  std::shared_ptr<std::string> framed =
      MakeSendBuffer(queue->large_buffers(), codec::kFramePrefixSize + size);
  auto* data = reinterpret_cast<uint8_t*>(framed->data());
  codec::EncodeFramePrefix(false, static_cast<uint32_t>(size), data);
  fill(source, data + codec::kFramePrefixSize);
  return SubmitFramed(std::move(framed));
}

bool ClientStreamState::SubmitFramed(std::shared_ptr<std::string> framed) {
  // Bounded buffering: at most send_budget (+ this one message) waits for the wire.
  WaitUntil(
      [&] { return finished() || unsent_bytes_.load(std::memory_order_acquire) < send_budget; });
  if (finished()) return false;
  unsent_bytes_.fetch_add(static_cast<int64_t>(framed->size()), std::memory_order_acq_rel);
  queue->Submit({ClientCommand::Kind::kSend, shared_from_this(), std::move(framed)});
  return true;
}

bool ClientStreamState::WritesDone() {
  H2RPC_SCOPED_USE(writer_busy_, "writing");
  if (finished()) return false;
  if (writes_done_.exchange(true, std::memory_order_acq_rel)) return true;
  queue->Submit({ClientCommand::Kind::kHalfClose, shared_from_this(), nullptr});
  return true;
}

void ClientStreamState::ReturnBuffer(std::string&& buffer) {
  queue->large_buffers()->Give(std::move(buffer));
}

bool ClientStreamState::Read(std::string* message, bool* compressed, PayloadPieces* pieces) {
  H2RPC_SCOPED_USE(reader_busy_, "reading");
  for (;;) {
    const uint32_t seen = signal_.Snapshot();
    // finished_ is published after the last message was pushed, so "finished and queue empty"
    // really is the end.
    const bool done = finished();
    if (done && drop_unread_) return false;
    if (std::optional<ReceivedMessage> received = messages_.TryPop()) {
      const int64_t size = static_cast<int64_t>(received->wire_size);
      if (compressed != nullptr) *compressed = received->compressed;
      if (received->pieces.empty()) {
        ReturnBuffer(std::exchange(*message, std::move(received->payload)));
        if (pieces != nullptr) pieces->clear();
      } else if (pieces != nullptr) {
        *pieces = std::move(received->pieces);
        message->clear();
      } else {
        // A reader that wants one string: it gets a pooled buffer, as the deframer used to.
        const size_t total = PiecesSize(received->pieces);
        if (message->capacity() < total) {
          std::string pooled = queue->large_buffers()->TakeOrEmpty();
          if (pooled.capacity() >= total) message->swap(pooled);
          ReturnBuffer(std::move(pooled));
        }
        FlattenPieces(received->pieces, message);
        received->pieces.clear();  // lets go of the read slabs now
      }
      const int64_t unread = unread_bytes_.fetch_sub(size, std::memory_order_seq_cst) - size;
      // The I/O thread held back window for this stream while we were slow; we caught up.
      if (unread <= static_cast<int64_t>(consume_threshold) &&
          consume_deferred_.load(std::memory_order_relaxed) &&
          consume_deferred_.exchange(false, std::memory_order_seq_cst) && !done) {
        queue->Submit({ClientCommand::Kind::kConsume, shared_from_this(), nullptr});
      }
      return true;
    }
    if (done) return false;
    signal_.Wait(seen);
  }
}

bool ClientStreamState::WaitForInitialMetadata() {
  WaitUntil([&] { return initial_metadata_ready_.load(std::memory_order_acquire) || finished(); });
  return initial_metadata_ready_.load(std::memory_order_acquire);
}

void ClientStreamState::Cancel(Status why) {
  if (finished()) return;
  if (cancel_claimed_.exchange(true, std::memory_order_acq_rel)) return;
  cancel_status_ = std::move(why);
  cancel_requested_.store(true, std::memory_order_release);
  queue->Submit({ClientCommand::Kind::kCancel, shared_from_this(), nullptr});
}

void ClientStreamState::WaitFinished() {
  WaitUntil([&] { return finished(); });
}

void ClientStreamState::AbandonReading() {
  if (reader_abandoned_.exchange(true, std::memory_order_seq_cst)) return;
  if (!finished() && consume_deferred_.exchange(false, std::memory_order_seq_cst)) {
    queue->Submit({ClientCommand::Kind::kConsume, shared_from_this(), nullptr});
  }
}

bool ClientStreamState::TakeInitialMetadata(Metadata* out) {
  if (initial_metadata_taken_ || !initial_metadata_ready_.load(std::memory_order_acquire)) {
    return false;
  }
  initial_metadata_taken_ = true;
  *out = std::move(initial_metadata_);
  return true;
}

std::string ClientStreamState::peer() const {
  return peer_ready_.load(std::memory_order_acquire) ? peer_ : std::string();
}

void ClientStreamState::FinishBeforeStart(Status status) { Complete(std::move(status), true); }

void ClientStreamState::CompleteQuietly(Status status, bool drop_unread) {
  if (finished_.load(std::memory_order_relaxed)) return;
  status_ = std::move(status);
  drop_unread_ = drop_unread;
  finished_.store(true, std::memory_order_release);
}

void ClientStreamState::PublishInitialMetadata(Metadata metadata) {
  initial_metadata_ = std::move(metadata);
  initial_metadata_ready_.store(true, std::memory_order_release);
}

void ClientStreamState::PublishPeer(const std::string& peer) {
  if (peer_ready_.load(std::memory_order_relaxed)) return;
  peer_ = peer;
  peer_ready_.store(true, std::memory_order_release);
}

bool ClientStreamState::DeliverMessage(ReceivedMessage message) {
  if (reader_abandoned()) return false;
  // Count before publishing so the reader's subtraction never sees a negative balance.
  unread_bytes_.fetch_add(static_cast<int64_t>(message.wire_size), std::memory_order_seq_cst);
  messages_.Push(std::move(message));
  return true;
}

bool ClientStreamState::ShouldConsumeNow() {
  if (reader_abandoned_.load(std::memory_order_seq_cst) ||
      unread_bytes_.load(std::memory_order_seq_cst) <= static_cast<int64_t>(consume_threshold)) {
    return true;
  }
  consume_deferred_.store(true, std::memory_order_seq_cst);
  // The reader may have drained (or given up) between our load and the store above; whoever
  // takes the flag back gives the window back (Dekker with Read/AbandonReading).
  if ((unread_bytes_.load(std::memory_order_seq_cst) <= static_cast<int64_t>(consume_threshold) ||
       reader_abandoned_.load(std::memory_order_seq_cst)) &&
      consume_deferred_.exchange(false, std::memory_order_seq_cst)) {
    return true;
  }
  return false;
}

void ClientStreamState::OnBytesSent(size_t n) {
  const int64_t before =
      unsent_bytes_.fetch_sub(static_cast<int64_t>(n), std::memory_order_acq_rel);
  const int64_t budget = send_budget;
  // Only a writer blocked on the budget cares; wake it when we cross back under.
  if (before >= budget && before - static_cast<int64_t>(n) < budget) signal_.Notify();
}

}  // namespace h2rpc::transport
