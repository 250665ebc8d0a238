// EventLoop: cross-thread wake-ups are never lost, timers fire in order and can be cancelled,
// fd callbacks run and may remove themselves, a loop that just worked polls before it sleeps
// (and only then, never on one CPU, nor under a CPU quota of less than two).
#include "transport/event_loop.h"

#include <doctest/doctest.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "transport/cpu_quota.h"
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

// Voluntary context switches of the calling thread: how often it blocked (a poll never does).
long VoluntarySwitches() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_nvcsw;
}

/// One pipe in a loop; ReadableSoon() makes it readable from another thread a little later.
struct PipeInLoop {
  explicit PipeInLoop(EventLoop& loop) : loop(loop) {
    REQUIRE(pipe(fds) == 0);
    loop.Add(fds[0], EPOLLIN, [this](uint32_t) {
      char buf[8];
      if (read(fds[0], buf, sizeof buf) > 0) ++events;
    });
  }
  ~PipeInLoop() {
    if (writer.joinable()) writer.join();
    loop.Remove(fds[0]);
    close(fds[0]);
    close(fds[1]);
  }
  void ReadableSoon(std::chrono::milliseconds delay) {
    writer = std::thread([this, delay] {
      std::this_thread::sleep_for(delay);
      CHECK(write(fds[1], "x", 1) == 1);
    });
  }
  /// The event after work: RunOnce must take the pipe's byte; returns the switches it made.
  long SwitchesForNextEvent(std::chrono::milliseconds delay = 20ms) {
    const int before = events;
    ReadableSoon(delay);
    const long switches = VoluntarySwitches();
    const auto start = Clock::now();
    while (events == before && Clock::now() - start < 10s) loop.RunOnce(10000ms, nullptr);
    const long made = VoluntarySwitches() - switches;
    writer.join();
    CHECK(events == before + 1);
    return made;
  }
  EventLoop& loop;
  int fds[2];
  int events = 0;
  std::thread writer;
};

TEST_CASE(
    "event loop: after work it polls before sleeping, so an event within the budget costs no "
    "sleep") {
  EventLoop loop;
  // Budget far above the writer's 20 ms delay, so a slow (sanitized, loaded) machine still
  // delivers within it.
  loop.set_poll_before_sleep(std::chrono::microseconds(5s));
  PipeInLoop pipe_in_loop(loop);
  if (UsableCpus() < 2) return;  // polling is off on one CPU (below), or under a small quota
  // The first event comes after an idle pass: the loop sleeps for it.
  loop.RunOnce(0ms, nullptr);
  CHECK(pipe_in_loop.SwitchesForNextEvent() >= 1);
  // The next one comes right after work: polled for, not slept for.
  CHECK(pipe_in_loop.SwitchesForNextEvent() == 0);
  CHECK(pipe_in_loop.SwitchesForNextEvent() == 0);
}

TEST_CASE("event loop: pending work ends the poll at once, and the poll spends only its budget") {
  EventLoop loop;
  loop.set_poll_before_sleep(std::chrono::microseconds(5s));
  PipeInLoop pipe_in_loop(loop);
  loop.RunOnce(0ms, nullptr);
  (void)pipe_in_loop.SwitchesForNextEvent();  // now the loop has just worked
  const auto start = Clock::now();
  loop.RunOnce(10000ms, [] { return true; });
  CHECK(Clock::now() - start < 4s);

  // A small budget: after it the loop sleeps (until the event) instead of polling on.
  loop.set_poll_before_sleep(std::chrono::microseconds(1ms));
  (void)pipe_in_loop.SwitchesForNextEvent();
  CHECK(pipe_in_loop.SwitchesForNextEvent() >= 1);  // 20 ms away: past the budget
}

TEST_CASE("event loop: on two CPUs only one loop of the process polls at a time") {
  cpu_set_t saved;
  REQUIRE(sched_getaffinity(0, sizeof saved, &saved) == 0);
  if (UsableCpus() < 2) return;
  cpu_set_t two;
  CPU_ZERO(&two);
  for (int cpu = 0, taken = 0; taken < 2; ++cpu) {
    if (CPU_ISSET(cpu, &saved)) {
      CPU_SET(cpu, &two);
      ++taken;
    }
  }
  // A thread on those two CPUs with a polling loop that has just worked, then `measure`.
  const auto on_two_cpus_after_work = [&two](const std::function<void(PipeInLoop&)>& measure) {
    return std::thread([&two, measure] {
      CHECK(sched_setaffinity(0, sizeof two, &two) == 0);
      EventLoop loop;
      loop.set_poll_before_sleep(std::chrono::microseconds(5s));
      PipeInLoop pipe_in_loop(loop);
      (void)pipe_in_loop.SwitchesForNextEvent();
      measure(pipe_in_loop);
    });
  };
  std::atomic<bool> first_polls{false};
  long first_switches = -1;
  long second_switches = -1;
  // The first loop polls for an event 300 ms away; the second, which also just worked, must
  // sleep for its own event meanwhile: the one polling slot that two CPUs allow is taken.
  std::thread first = on_two_cpus_after_work([&](PipeInLoop& pipe_in_loop) {
    first_polls = true;
    first_switches = pipe_in_loop.SwitchesForNextEvent(300ms);
  });
  std::thread second = on_two_cpus_after_work([&](PipeInLoop& pipe_in_loop) {
    while (!first_polls) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(50ms);  // the first loop is polling by now
    second_switches = pipe_in_loop.SwitchesForNextEvent();
  });
  first.join();
  second.join();
  CHECK(first_switches == 0);
  CHECK(second_switches >= 1);
}

TEST_CASE("event loop: no poll when the process's cgroup CPU quota is under two CPUs") {
  // Only inside such a cgroup (elsewhere there is nothing to check); for example, as root on a
  // cgroup v2 system:
  //   mkdir /sys/fs/cgroup/half && echo "50000 100000" > /sys/fs/cgroup/half/cpu.max
  //   sh -c 'echo $$ > /sys/fs/cgroup/half/cgroup.procs && exec transport_tests -tc="*quota*"'
  const std::optional<double> limit = ProcessCpuLimit();
  if (!limit || *limit >= 2) return;
  CHECK(UsableCpus() < 2);
  EventLoop loop;
  loop.set_poll_before_sleep(std::chrono::microseconds(5s));  // ignored: under two CPUs
  PipeInLoop pipe_in_loop(loop);
  (void)pipe_in_loop.SwitchesForNextEvent();
  CHECK(pipe_in_loop.SwitchesForNextEvent() >= 1);
}

TEST_CASE("event loop: no poll when the thread may use one CPU only, or with a zero budget") {
  cpu_set_t saved;
  REQUIRE(sched_getaffinity(0, sizeof saved, &saved) == 0);
  int first_cpu = 0;
  while (!CPU_ISSET(first_cpu, &saved)) ++first_cpu;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first_cpu, &one);
  REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);
  {
    EventLoop loop;
    loop.set_poll_before_sleep(std::chrono::microseconds(5s));  // ignored: one CPU
    PipeInLoop pipe_in_loop(loop);
    (void)pipe_in_loop.SwitchesForNextEvent();
    CHECK(pipe_in_loop.SwitchesForNextEvent() >= 1);
  }
  REQUIRE(sched_setaffinity(0, sizeof saved, &saved) == 0);

  EventLoop loop;  // the default: no poll
  PipeInLoop pipe_in_loop(loop);
  (void)pipe_in_loop.SwitchesForNextEvent();
  CHECK(pipe_in_loop.SwitchesForNextEvent() >= 1);
}

}  // namespace
}  // namespace h2rpc::transport
