// HandlerPool: the threads that run call handlers, one call per thread at a time.
//
// Threads are reused: after a handler returns, its thread waits (on its own futex word) for the
// next call, up to `max_idle` idle threads; beyond that it exits. Handing a call to an idle
// thread costs a short uncontended lock and one FUTEX_WAKE. The number of RUNNING handlers is
// bounded by the caller (ServerImpl's slots), so threads = running + idle stays bounded too.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
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

  /// Runs `runner(task)` on a pooled thread (an idle one if any, else a new one).
  void Run(Task task);
  /// Waits for running tasks to return, then stops and joins every thread. Idempotent.
  void Shutdown();

  /// Threads alive now (running + idle + exiting), for tests.
  size_t thread_count() const { return live_.load(std::memory_order_acquire); }
  /// Most threads alive at once since start.
  size_t peak_thread_count() const { return peak_.load(std::memory_order_acquire); }

 private:
  struct Worker {
    std::thread thread;
    transport::WaitWord word;
    std::atomic<bool> assigned{false};
    Task task;  // written before `assigned` is set
    bool stop = false;
  };

  void Loop(Worker* worker);
  void ReapExited();

  const uint32_t max_idle_;
  Runner runner_;
  std::mutex mu_;                                 // idle_, workers_, exited_, stopping_
  std::vector<Worker*> idle_;                     // LIFO: the warmest thread runs next
  std::vector<std::unique_ptr<Worker>> workers_;  // alive (running or idle)
  std::vector<std::unique_ptr<Worker>> exited_;   // returned from Loop; to be joined
  bool stopping_ = false;
  std::atomic<size_t> live_{0};
  std::atomic<size_t> peak_{0};
};

}  // namespace h2rpc::internal
