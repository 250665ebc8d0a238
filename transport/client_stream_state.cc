#include "transport/client_stream_state.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <climits>
#include <cstdio>
#include <cstring>
#include <utility>

#include "transport/client_transport.h"

namespace h2rpc::transport {

namespace {

// A caller sometimes waits only a few microseconds for the I/O thread (a stream whose messages
// arrive back to back); spinning that long first saves the futex sleep + wake (two syscalls and
// a context switch, ~10 µs on a virtual machine). But a unary call or an echo round trip takes
// ≥ 40 µs even on loopback, and there the spin only burns the CPU the I/O threads need (with 8
// callers on 2 cores it cost 10-20 % of the throughput). So each thread remembers whether its
// recent spins paid off: after kMissesBeforeSkipping spins in a row that ended asleep it stops
// spinning, and tries again once every kProbeEvery waits to notice when the pattern changes.
constexpr int kSpinIterations = 100;
constexpr uint32_t kMissesBeforeSkipping = 2;
constexpr uint32_t kProbeEvery = 16;

struct SpinPredictor {
  uint32_t misses = 0;   // spins in a row that ended in a sleep
  uint32_t skipped = 0;  // waits that did not spin, for probing

  bool ShouldSpin() {
    if (misses < kMissesBeforeSkipping) return true;
    return ++skipped % kProbeEvery == 0;
  }
  void Record(bool paid_off) {
    misses = paid_off ? 0 : std::min(misses + 1, kMissesBeforeSkipping);
  }
};

thread_local SpinPredictor spin_predictor;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

uint32_t* FutexWord(std::atomic<uint32_t>* word) { return reinterpret_cast<uint32_t*>(word); }

// Each board's word counts the wake-ups issued on it: a sleeper sleeps only while the count is
// still the one it read before it last checked its call, so no wake-up is lost in between.
struct alignas(64) WakeBoard {
  std::atomic<uint32_t> generation{0};
};
WakeBoard wake_boards[WakeBatch::kBoards];
constexpr uint32_t kSlots = WakeBatch::kBoards * 32;
std::atomic<uint32_t> next_slot{0};

void WakeBoardSlots(uint32_t board, uint32_t mask) {
  std::atomic<uint32_t>& word = wake_boards[board].generation;
  word.fetch_add(1, std::memory_order_seq_cst);
  syscall(SYS_futex, FutexWord(&word), FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, nullptr, nullptr, mask);
}

}  // namespace

void WakeBatch::Flush() {
  for (uint32_t board = 0; board < kBoards; ++board) {
    if (masks_[board] == 0) continue;
    WakeBoardSlots(board, masks_[board]);
    masks_[board] = 0;
  }
}

// Consecutive calls get consecutive slots, so the calls in flight at one time rarely share one.
CallSignal::CallSignal() : slot_(next_slot.fetch_add(1, std::memory_order_relaxed) % kSlots) {}

void CallSignal::Notify() {
  // seq_cst on both sides (here and in Wait) is a Dekker handshake: either the sleeper sees the
  // new sequence before it sleeps, or we see the sleeper and wake it.
  sequence_.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) != 0)
    WakeBoardSlots(slot_ / 32, 1u << (slot_ % 32));
}

void CallSignal::NotifyInto(WakeBatch& batch) {
  sequence_.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) != 0) batch.Add(slot_);
}

void CallSignal::Wait(uint32_t seen) {
  if (sequence_.load(std::memory_order_acquire) != seen) return;
  if (spin_predictor.ShouldSpin()) {
    for (int i = 0; i < kSpinIterations; ++i) {
      CpuRelax();
      if (sequence_.load(std::memory_order_acquire) != seen) {
        spin_predictor.Record(true);
        return;
      }
    }
    spin_predictor.Record(false);
  }
  std::atomic<uint32_t>& board = wake_boards[slot_ / 32].generation;
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  for (;;) {
    // Read the board before checking the call: a wake-up issued after this read changes the
    // board, so the sleep below returns at once (EAGAIN) instead of missing it.
    const uint32_t generation = board.load(std::memory_order_seq_cst);
    if (sequence_.load(std::memory_order_seq_cst) != seen) break;
    syscall(SYS_futex, FutexWord(&board), FUTEX_WAIT_BITSET_PRIVATE, generation, nullptr, nullptr,
            1u << (slot_ % 32));
  }
  sleepers_.fetch_sub(1, std::memory_order_seq_cst);
}

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

bool ClientStreamState::Read(std::string* message, bool* compressed) {
  H2RPC_SCOPED_USE(reader_busy_, "reading");
  for (;;) {
    const uint32_t seen = signal_.Snapshot();
    // finished_ is published after the last message was pushed, so "finished and queue empty"
    // really is the end.
    const bool done = finished();
    if (done && drop_unread_) return false;
    if (std::optional<ReceivedMessage> received = messages_.TryPop()) {
      const int64_t size = static_cast<int64_t>(received->wire_size);
      std::string previous = std::exchange(*message, std::move(received->payload));
      if (compressed != nullptr) *compressed = received->compressed;
      ReturnBuffer(std::move(previous));
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
