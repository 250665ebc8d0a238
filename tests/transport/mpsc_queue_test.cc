// MpscQueue: FIFO per producer, nothing lost or duplicated under contention, owned values freed.
#include "transport/mpsc_queue.h"

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace h2rpc::transport {
namespace {

TEST_CASE("mpsc queue: one thread, FIFO") {
  MpscQueue<int> queue;
  CHECK(queue.Empty());
  CHECK_FALSE(queue.TryPop().has_value());
  for (int i = 0; i < 100; ++i) queue.Push(i);
  CHECK_FALSE(queue.Empty());
  for (int i = 0; i < 100; ++i) {
    std::optional<int> v = queue.TryPop();
    REQUIRE(v.has_value());
    CHECK(*v == i);
  }
  CHECK_FALSE(queue.TryPop().has_value());
  CHECK(queue.Empty());
  // Reusable after draining (the stub node goes back in).
  queue.Push(7);
  CHECK(*queue.TryPop() == 7);
  CHECK(queue.Empty());
}

TEST_CASE("mpsc queue: move-only values, leftovers freed by the destructor") {
  auto counter = std::make_shared<int>(0);
  {
    MpscQueue<std::shared_ptr<int>> queue;
    for (int i = 0; i < 10; ++i) queue.Push(counter);
    CHECK(counter.use_count() == 11);
    queue.TryPop();
    CHECK(counter.use_count() == 10);
  }
  CHECK(counter.use_count() == 1);
  MpscQueue<std::unique_ptr<int>> owned;
  owned.Push(std::make_unique<int>(5));
  CHECK(**owned.TryPop() == 5);
}

TEST_CASE("mpsc queue: 8 producers x 50,000 items, one consumer") {
  constexpr int kProducers = 8;
  constexpr int kItems = 50000;
  MpscQueue<std::pair<int, int>> queue;
  std::atomic<int> started{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      started.fetch_add(1);
      while (started.load() < kProducers) {
      }
      for (int i = 0; i < kItems; ++i) queue.Push({p, i});
    });
  }
  std::vector<int> next(kProducers, 0);
  int received = 0;
  bool in_order = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (received < kProducers * kItems && std::chrono::steady_clock::now() < deadline) {
    std::optional<std::pair<int, int>> item = queue.TryPop();
    if (!item) continue;  // empty, or a push in flight: poll again
    if (item->second != next[item->first]) in_order = false;
    next[item->first] = item->second + 1;
    ++received;
  }
  for (auto& t : producers) t.join();
  CHECK(received == kProducers * kItems);
  CHECK(in_order);
  CHECK_FALSE(queue.TryPop().has_value());
}

}  // namespace
}  // namespace h2rpc::transport
