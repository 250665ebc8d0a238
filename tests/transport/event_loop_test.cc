// EventLoop: cross-thread wake-ups are never lost, timers fire in order and can be cancelled,
// fd callbacks run and may remove themselves.
#include "transport/event_loop.h"

#include <doctest/doctest.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "transport/mpsc_queue.h"

namespace h2rpc::transport {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST_CASE("event loop: Wake() from another thread ends a long wait at once") {
  EventLoop loop;
  std::thread waker([&] {
    std::this_thread::sleep_for(50ms);
    loop.Wake();
  });
  const auto start = Clock::now();
  loop.RunOnce(10000ms, nullptr);
  CHECK(Clock::now() - start < 5000ms);
  waker.join();
}

TEST_CASE("event loop: no push + wake is ever missed (Dekker with has_pending_work)") {
  EventLoop loop;
  MpscQueue<int> queue;
  constexpr int kProducers = 4;
  constexpr int kItems = 20000;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&] {
      for (int i = 0; i < kItems; ++i) {
        queue.Push(i);
        loop.Wake();
        if (i % 1000 == 0) std::this_thread::sleep_for(1ms);  // let the loop fall asleep
      }
    });
  }
  int received = 0;
  const auto deadline = Clock::now() + 60s;
  while (received < kProducers * kItems && Clock::now() < deadline) {
    // A lost wake-up would leave this asleep for the full second each time.
    loop.RunOnce(1000ms, [&] { return !queue.Empty(); });
    while (queue.TryPop()) ++received;
  }
  for (auto& t : producers) t.join();
  CHECK(received == kProducers * kItems);
  CHECK(Clock::now() < deadline);
}

TEST_CASE("event loop: timers fire in order, cancelled ones never") {
  EventLoop loop;
  std::vector<int> fired;
  const auto now = Clock::now();
  loop.AddTimer(now + 30ms, [&] { fired.push_back(3); });
  loop.AddTimer(now + 10ms, [&] { fired.push_back(1); });
  const EventLoop::TimerId cancelled = loop.AddTimer(now + 20ms, [&] { fired.push_back(2); });
  loop.AddTimer(now + 10ms, [&] { fired.push_back(11); });  // same time: both fire
  loop.CancelTimer(cancelled);
  loop.CancelTimer(cancelled);  // twice is harmless
  const auto until = now + 2s;
  while (fired.size() < 3 && Clock::now() < until) loop.RunOnce(100ms, nullptr);
  REQUIRE(fired.size() == 3);
  CHECK(fired[2] == 3);
  CHECK((fired[0] == 1 || fired[0] == 11));
  CHECK(Clock::now() - now >= 30ms);
}

TEST_CASE("event loop: fd callbacks run, and may remove their own fd") {
  EventLoop loop;
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  int calls = 0;
  loop.Add(fds[0], EPOLLIN, [&](uint32_t) {
    ++calls;
    char buf[8];
    ssize_t n = read(fds[0], buf, sizeof buf);
    (void)n;
    loop.Remove(fds[0]);
  });
  REQUIRE(write(fds[1], "x", 1) == 1);
  loop.RunOnce(1000ms, nullptr);
  CHECK(calls == 1);
  REQUIRE(write(fds[1], "y", 1) == 1);
  loop.RunOnce(50ms, nullptr);
  CHECK(calls == 1);  // removed
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace h2rpc::transport
