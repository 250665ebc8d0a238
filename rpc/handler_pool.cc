#include "rpc/handler_pool.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace h2rpc::internal {

HandlerPool::HandlerPool(uint32_t max_idle, Runner runner)
    : max_idle_(max_idle), runner_(std::move(runner)) {}

HandlerPool::~HandlerPool() { Shutdown(); }

void HandlerPool::Run(Task task) {
  Worker* worker = nullptr;
  std::vector<std::unique_ptr<Worker>> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      worker = idle_.back();
      idle_.pop_back();
    } else {
      // Cold path: no idle thread. The thread is created under the lock so that its handle is
      // stored before it can possibly exit and be joined by someone else.
      finished.swap(exited_);
      auto owned = std::make_unique<Worker>();
      Worker* w = owned.get();
      w->task = std::move(task);
      w->assigned.store(true, std::memory_order_relaxed);
      workers_.push_back(std::move(owned));
      const size_t live = live_.fetch_add(1, std::memory_order_acq_rel) + 1;
      size_t peak = peak_.load(std::memory_order_relaxed);
      while (live > peak && !peak_.compare_exchange_weak(peak, live)) {
      }
      w->thread = std::thread([this, w] { Loop(w); });
    }
  }
  for (auto& w : finished) w->thread.join();  // threads that exited earlier; they are done
  if (worker != nullptr) {
    worker->task = std::move(task);
    worker->assigned.store(true, std::memory_order_release);
    worker->word.Notify();  // one FUTEX_WAKE: the idle thread sleeps on its own word
  }
}

void HandlerPool::Loop(Worker* w) {
  for (;;) {
    w->word.WaitUntil([w] { return w->assigned.load(std::memory_order_acquire); });
    w->assigned.store(false, std::memory_order_relaxed);
    if (w->stop) break;
    runner_(std::move(w->task));
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_ && idle_.size() < max_idle_) {
      idle_.push_back(w);
      continue;
    }
    break;  // enough idle threads already (or shutting down): this one exits
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find_if(workers_.begin(), workers_.end(),
                         [w](const std::unique_ptr<Worker>& p) { return p.get() == w; });
  exited_.push_back(std::move(*it));
  workers_.erase(it);
  live_.fetch_sub(1, std::memory_order_acq_rel);
}

void HandlerPool::Shutdown() {
  std::vector<Worker*> idle;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && workers_.empty() && exited_.empty()) return;
    stopping_ = true;
    idle.swap(idle_);
  }
  for (Worker* w : idle) {
    w->stop = true;
    w->assigned.store(true, std::memory_order_release);
    w->word.Notify();
  }
  // Running handlers finish on their own (the server cancelled their calls) and then exit.
  for (;;) {
    std::vector<std::unique_ptr<Worker>> finished;
    bool empty = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished.swap(exited_);
      empty = workers_.empty();
    }
    for (auto& w : finished) w->thread.join();
    if (empty) {
      std::lock_guard<std::mutex> lock(mu_);
      if (exited_.empty()) return;
      continue;
    }
    if (finished.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace h2rpc::internal
