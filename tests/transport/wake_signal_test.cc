// WakeSignal and WakeBatch: no wake-up is lost, whether issued alone or in a batch, and callers
// whose calls share a wake slot (more than WakeBatch::kSlots asleep) only wake spuriously.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "transport/wake_signal.h"

namespace h2rpc::transport {
namespace {

// Blocks until `round` reaches `want`, the way ClientStreamState waits for its call.
void WaitForRound(WakeSignal& signal, const std::atomic<int>& round, int want) {
  for (;;) {
    const uint32_t seen = signal.Snapshot();
    if (round.load(std::memory_order_acquire) >= want) return;
    signal.Wait(seen);
  }
}

struct Waiter {
  WakeSignal signal;
  std::atomic<int> round{0};
  std::atomic<int> acknowledged{0};
};

TEST_CASE("wake signal: batched and single wake-ups reach every sleeper, slots shared") {
  // Two groups of 40 whose slots coincide (signals take consecutive slots, modulo kSlots): every
  // sleeper shares its slot, and its board, with one of the other group.
  constexpr int kGroup = 40;
  constexpr int kWaiters = 2 * kGroup;
  constexpr int kRounds = 60;
  std::vector<std::unique_ptr<Waiter>> waiters;
  std::vector<std::unique_ptr<WakeSignal>> spacers;
  for (int i = 0; i < kGroup; ++i) waiters.push_back(std::make_unique<Waiter>());
  for (uint32_t i = kGroup; i < WakeBatch::kSlots; ++i) {
    spacers.push_back(std::make_unique<WakeSignal>());
  }
  for (int i = 0; i < kGroup; ++i) waiters.push_back(std::make_unique<Waiter>());
  std::vector<std::thread> threads;
  for (auto& w : waiters) {
    threads.emplace_back([&w] {
      for (int r = 1; r <= kRounds; ++r) {
        WaitForRound(w->signal, w->round, r);
        w->acknowledged.store(r, std::memory_order_release);
      }
    });
  }
  for (int r = 1; r <= kRounds; ++r) {
    WakeBatch batch;
    for (int i = 0; i < kWaiters; ++i) {
      Waiter& w = *waiters[i];
      w.round.store(r, std::memory_order_release);
      // Mix the two paths: every third waiter is woken at once, the rest with the batch.
      if ((i + r) % 3 == 0) {
        w.signal.Notify();
      } else {
        w.signal.NotifyInto(batch);
      }
    }
    batch.Flush();
    for (auto& w : waiters) {
      while (w->acknowledged.load(std::memory_order_acquire) < r) std::this_thread::yield();
    }
  }
  for (auto& t : threads) t.join();
  for (auto& w : waiters) CHECK(w->acknowledged.load() == kRounds);
}

TEST_CASE("wake signal: a sleeper sharing a slot is not released by another call's wake-up") {
  auto first = std::make_unique<Waiter>();
  // Signals take consecutive slots modulo kSlots: the kSlots-th after `first` shares its slot.
  std::vector<std::unique_ptr<WakeSignal>> spacers;
  for (uint32_t i = 1; i < WakeBatch::kSlots; ++i)
    spacers.push_back(std::make_unique<WakeSignal>());
  auto second = std::make_unique<Waiter>();

  std::atomic<bool> first_done{false};
  std::atomic<bool> second_done{false};
  std::thread first_thread([&] {
    WaitForRound(first->signal, first->round, 1);
    first_done.store(true);
  });
  std::thread second_thread([&] {
    WaitForRound(second->signal, second->round, 1);
    second_done.store(true);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let both go to sleep

  {
    WakeBatch batch;
    second->round.store(1, std::memory_order_release);
    second->signal.NotifyInto(batch);
  }  // the batch flushes when it goes out of scope
  second_thread.join();
  CHECK(second_done.load());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(first_done.load());  // woken at most spuriously: its round has not come

  first->round.store(1, std::memory_order_release);
  first->signal.Notify();
  first_thread.join();
  CHECK(first_done.load());
}

}  // namespace
}  // namespace h2rpc::transport
