// WaitWord: "wait until a condition holds" for one thread, woken by another, on a futex.
//
// Why not std::atomic::wait: libstdc++ 12 spins and then calls sched_yield() a dozen times
// before it sleeps, and its notify goes through a shared waiter table; a handler thread that
// waits for the next request message would burn CPU and the I/O thread would pay a lookup per
// message. Here the waiter announces itself in bit 0 of the word, so Notify() costs one atomic
// add when nobody sleeps and one FUTEX_WAKE when somebody does.
//
// Protocol. The notifier makes its condition true (any store it likes), then calls Notify(),
// which adds 2 to the word (acq_rel). The waiter reads the word, checks its condition, sets
// bit 0, checks again, then sleeps only while the word still holds the value it announced. Any
// Notify() after the read changes the word, so the sleep returns at once or is woken: no wake
// is ever lost. Wake-ups may be spurious; WaitUntil re-checks.
#pragma once

#include <atomic>
#include <cstdint>

namespace h2rpc::transport {

class WaitWord {
 public:
  /// Blocks the calling thread until `ready()` returns true. `ready` may run several times.
  template <class Ready>
  void WaitUntil(Ready&& ready) {
    for (;;) {
      uint32_t w = word_.load(std::memory_order_acquire);
      if (ready()) return;
      if ((w & 1u) == 0) {
        if (!word_.compare_exchange_weak(w, w | 1u, std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
          continue;  // a Notify() came in between: re-check the condition
        }
        w |= 1u;
      }
      if (ready()) return;
      Sleep(w);
    }
  }

  /// Any thread, after making the waiter's condition true.
  void Notify() {
    const uint32_t old = word_.fetch_add(2, std::memory_order_acq_rel);
    if (old & 1u) {
      word_.fetch_and(~1u, std::memory_order_relaxed);
      Wake();
    }
  }

 private:
  void Sleep(uint32_t expected);  // FUTEX_WAIT while the word equals `expected`
  void Wake();                    // FUTEX_WAKE all

  std::atomic<uint32_t> word_{0};
};

}  // namespace h2rpc::transport
