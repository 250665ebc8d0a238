// HandlerPool: the threads that run call handlers, one call per thread at a time.
//
// A call is queued and taken by a "searching" worker: one that is awake and about to look at
// the queue (it just finished a call, or was just woken for this). The dispatching I/O thread
// wakes a sleeping worker (one FUTEX_WAKE on that worker's own word) only when nobody is
// searching, so under load a worker finishing a call picks up the next one without sleeping
// and the I/O thread makes no syscall at all. A worker that takes a call while more are
// queued and nobody else searches wakes a helper before it runs its handler: a handler that
// blocks therefore never holds up a queued call (the property thread-per-call promises).
//
// Threads are reused; beyond `max_idle` sleeping workers a worker exits instead of sleeping.
// The number of RUNNING handlers is bounded by the caller (ServerImpl's slots), so threads =
// running + searching (a few) + idle stays bounded.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "transport/server_wait_word.h"

namespace h2rpc::internal {

class ServerCallState;

class HandlerPool {
 public:
  using Task = std::shared_ptr<ServerCallState>;
  using Runner = std::function<void(Task)>;

  HandlerPool(uint32_t max_idle, Runner runner);
  ~HandlerPool();  // Shutdown()
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  /// Runs `runner(task)` on a pooled thread.
  void Run(Task task);
  /// Waits for queued and running tasks to return, then stops and joins every thread.
  /// Idempotent. No Run() may be called once it started.
  void Shutdown();

  /// Threads alive now (running + searching + idle + exiting), for tests.
  size_t thread_count() const { return live_.load(std::memory_order_acquire); }
  /// Most threads alive at once since start.
  size_t peak_thread_count() const { return peak_.load(std::memory_order_acquire); }

 private:
  struct Worker {
    std::thread thread;
    transport::WaitWord word;
    std::atomic<bool> woken{false};
    bool stop = false;  // set under mu_ by Shutdown before waking
  };

  void Loop(Worker* worker);
  /// mu_ held. Counts one more searching worker and returns an idle one to wake (outside the
  /// lock), or starts a new thread (which searches at once) and returns null.
  Worker* AddSearcherLocked();
  static void Wake(Worker* worker);

  const uint32_t max_idle_;
  Runner runner_;
  std::mutex mu_;                                 // everything below
  std::deque<Task> queue_;                        // dispatched, not yet taken
  std::vector<Worker*> idle_;                     // sleeping; LIFO: the warmest runs next
  std::vector<std::unique_ptr<Worker>> workers_;  // alive
  std::vector<std::unique_ptr<Worker>> exited_;   // returned from Loop; to be joined
  uint32_t searching_ = 0;
  bool stopping_ = false;
  std::atomic<size_t> live_{0};
  std::atomic<size_t> peak_{0};
};

}  // namespace h2rpc::internal
