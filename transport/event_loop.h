// EventLoop: epoll, an eventfd waker with coalesced wake-ups, and one-shot timers.
//
// Owned and run by exactly one I/O thread. Other threads only call Wake() (after pushing onto a
// queue the loop drains) — that is the whole cross-thread surface.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>
#include <vector>

struct epoll_event;

namespace h2rpc::transport {

class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;
  /// Called with the epoll event mask (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP ...).
  using FdCallback = std::function<void(uint32_t events)>;
  using TimerCallback = std::function<void()>;
  using TimerId = uint64_t;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  /// I/O thread only. The callback may add/modify/remove any fd, including its own.
  void Add(int fd, uint32_t events, FdCallback callback);
  void Modify(int fd, uint32_t events);
  void Remove(int fd);

  /// I/O thread only. Runs `callback` once at or after `when`.
  TimerId AddTimer(Clock::time_point when, TimerCallback callback);
  void CancelTimer(TimerId id);

  /// Any thread. Makes a sleeping (or about to sleep) loop return from its wait. Costs a syscall
  /// only when the loop is asleep and no other wake is already pending.
  void Wake();

  /// I/O thread. Waits for events (at most until the next timer, or `max_wait`), runs fd
  /// callbacks then due timers. `has_pending_work` is re-checked after announcing sleep so a
  /// Push+Wake from another thread is never missed (RMW handshake on one word with Wake()).
  void RunOnce(std::chrono::milliseconds max_wait, const std::function<bool()>& has_pending_work);

  /// I/O thread. When a pass found work, the next RunOnce polls (epoll without sleeping, and
  /// `has_pending_work`) for up to `budget` before it sleeps. Zero: sleep at once. Ignored when
  /// the thread may use one CPU only (whatever we wait for could not run meanwhile) — its
  /// affinity mask, or the process's cgroup CPU quota under two CPUs — and while loops of this
  /// process already poll on half the CPUs it may use.
  void set_poll_before_sleep(std::chrono::microseconds budget);

 private:
  void RunDueTimers();
  /// Polls until an event or pending work shows up or the budget is spent; epoll_wait's result.
  int PollBeforeSleep(::epoll_event* events, int max_events,
                      const std::function<bool()>& has_pending_work);

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  /// kSleeping while the loop is in (or about to enter) epoll_wait; see Wake().
  enum : uint8_t { kAwake = 0, kSleeping = 1 };
  std::atomic<uint8_t> state_{kAwake};
  std::chrono::microseconds poll_before_sleep_{0};
  int max_loops_polling_ = 0;
  bool last_pass_found_work_ = false;
  std::unordered_map<int, FdCallback> callbacks_;
  std::vector<FdCallback> retired_;
  std::multimap<Clock::time_point, TimerId> timers_by_time_;
  std::unordered_map<TimerId, std::pair<Clock::time_point, TimerCallback>> timers_;
  TimerId next_timer_id_ = 1;
};

}  // namespace h2rpc::transport
