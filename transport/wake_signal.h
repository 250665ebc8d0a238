// WakeSignal and WakeBatch: how a client caller sleeps until the I/O thread has something for
// its call, and how the I/O thread wakes the callers one batch of socket input concerns at once.
#pragma once

#include <atomic>
#include <cstdint>

namespace h2rpc::transport {

/// Wake-ups of several calls' callers gathered by the I/O thread during one batch and issued
/// together: one FUTEX_WAKE_BITSET per wake board instead of one FUTEX_WAKE per caller.
class WakeBatch {
 public:
  WakeBatch() = default;
  WakeBatch(const WakeBatch&) = delete;
  WakeBatch& operator=(const WakeBatch&) = delete;
  ~WakeBatch() { Flush(); }

  void Add(uint32_t slot) {
    masks_[slot / 32] |= 1u << (slot % 32);
    boards_used_ |= uint64_t{1} << (slot / 32);
  }
  /// Wakes every sleeper added since the last Flush.
  void Flush();

  // Many boards, so that the kernel's list of sleepers behind one futex word stays short (a
  // wake walks it); consecutive slots share a board, so one batch still needs one or two wakes.
  static constexpr uint32_t kBoards = 64;
  static constexpr uint32_t kSlots = kBoards * 32;  // see WakeSignal

 private:
  uint32_t masks_[kBoards] = {};
  uint64_t boards_used_ = 0;
  static_assert(kBoards <= 64, "boards_used_ has one bit per board");
};

/// A wake-up channel between an I/O thread and the (at most two) threads blocked on one client
/// call, its reader and its writer: a sequence number bumped on every change, and a futex to
/// sleep on. Notify costs one uncontended atomic add, plus a futex wake only when someone is
/// actually asleep.
///
/// Sleepers do not wait on their signal's own word but on one of a few process-wide "wake
/// boards", with a bit (the signal's slot) of their own: when a batch of socket input finishes
/// eight calls, the I/O thread wakes their eight callers with one system call rather than eight.
/// Each wake costs the waker ~5 µs of CPU on a virtual machine, and the I/O thread is the
/// client's serial stage. Signals that share a slot (more than 2,048 sleepers) only see a
/// spurious wake-up, after which they re-check and sleep again.
class WakeSignal {
 public:
  WakeSignal();
  uint32_t Snapshot() const { return sequence_.load(std::memory_order_seq_cst); }
  /// Whoever changed the call: wakes waiters now.
  void Notify();
  /// The I/O thread: records the wake-up in `batch`, which issues it at its Flush.
  void NotifyInto(WakeBatch& batch);
  /// Returns once the sequence differs from `seen`; spins briefly first while recent spins on
  /// this thread paid off.
  void Wait(uint32_t seen);

 private:
  void Sleep(uint32_t seen);  // the futex part of Wait

  std::atomic<uint32_t> sequence_{0};
  std::atomic<uint32_t> sleepers_{0};
  const uint32_t slot_;
};

}  // namespace h2rpc::transport
