#include "transport/wake_signal.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include "transport/cpu_relax.h"

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

uint32_t* FutexWord(std::atomic<uint32_t>* word) { return reinterpret_cast<uint32_t*>(word); }

// Each board's word counts the wake-ups issued on it: a sleeper sleeps only while the count is
// still the one it read before it last checked its call, so no wake-up is lost in between.
struct alignas(64) WakeBoard {
  std::atomic<uint32_t> generation{0};
};
WakeBoard wake_boards[WakeBatch::kBoards];
std::atomic<uint32_t> next_slot{0};

void WakeBoardSlots(uint32_t board, uint32_t mask) {
  std::atomic<uint32_t>& word = wake_boards[board].generation;
  word.fetch_add(1, std::memory_order_seq_cst);
  syscall(SYS_futex, FutexWord(&word), FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, nullptr, nullptr, mask);
}

}  // namespace

void WakeBatch::Flush() {
  while (boards_used_ != 0) {
    const auto board = static_cast<uint32_t>(__builtin_ctzll(boards_used_));
    boards_used_ &= boards_used_ - 1;
    WakeBoardSlots(board, masks_[board]);
    masks_[board] = 0;
  }
}

// Consecutive calls get consecutive slots, so the calls in flight at one time rarely share one.
WakeSignal::WakeSignal()
    : slot_(next_slot.fetch_add(1, std::memory_order_relaxed) % WakeBatch::kSlots) {}

void WakeSignal::Notify() {
  // seq_cst on both sides (here and in Wait) is a Dekker handshake: either the sleeper sees the
  // new sequence before it sleeps, or we see the sleeper and wake it.
  sequence_.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) != 0)
    WakeBoardSlots(slot_ / 32, 1u << (slot_ % 32));
}

void WakeSignal::NotifyInto(WakeBatch& batch) {
  sequence_.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) != 0) batch.Add(slot_);
}

void WakeSignal::Wait(uint32_t seen) {
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
  Sleep(seen);
}

void WakeSignal::Sleep(uint32_t seen) {
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

}  // namespace h2rpc::transport
