#include "rpc/handler_pool.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace h2rpc::internal {

HandlerPool::HandlerPool(uint32_t max_idle, Runner runner)
    : max_idle_(max_idle), runner_(std::move(runner)) {}

HandlerPool::~HandlerPool() { Shutdown(); }

void HandlerPool::Wake(Worker* worker) {
  worker->woken.store(true, std::memory_order_release);
  worker->word.Notify();  // one FUTEX_WAKE: the worker sleeps on its own word
}

HandlerPool::Worker* HandlerPool::AddSearcherLocked() {
  ++searching_;
  if (!idle_.empty()) {
    Worker* w = idle_.back();
    idle_.pop_back();
    return w;
  }
  // Cold path: no idle thread. Created under the lock so that its handle is stored before the
  // thread can exit and be joined by someone else.
  auto owned = std::make_unique<Worker>();
  Worker* w = owned.get();
  workers_.push_back(std::move(owned));
  const size_t live = live_.fetch_add(1, std::memory_order_acq_rel) + 1;
  size_t peak = peak_.load(std::memory_order_relaxed);
  while (live > peak && !peak_.compare_exchange_weak(peak, live)) {
  }
  w->thread = std::thread([this, w] { Loop(w); });
  return nullptr;
}

void HandlerPool::Run(Task task) {
  Worker* to_wake = nullptr;
  std::vector<std::unique_ptr<Worker>> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(task));
    // A searching worker will take it; otherwise get one searching.
    if (searching_ == 0) to_wake = AddSearcherLocked();
    if (!exited_.empty()) finished.swap(exited_);
  }
  if (to_wake != nullptr) Wake(to_wake);
  for (auto& w : finished) w->thread.join();  // threads that already returned from Loop
}

void HandlerPool::Loop(Worker* w) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    // Here the lock is held and this worker is counted in searching_.
    if (queue_.empty()) {
      --searching_;
      if (stopping_ || idle_.size() >= max_idle_) break;  // enough sleepers already: exit
      idle_.push_back(w);
      lock.unlock();
      w->word.WaitUntil([w] { return w->woken.load(std::memory_order_acquire); });
      w->woken.store(false, std::memory_order_relaxed);
      lock.lock();
      if (w->stop) break;  // Shutdown took it off idle_ (and did not count it as searching)
      continue;            // the waker counted it in searching_
    }
    Task task = std::move(queue_.front());
    queue_.pop_front();
    --searching_;
    // More calls wait and nobody else is looking: hand them to another thread before running
    // this handler, which may block for as long as it likes.
    Worker* helper = (!queue_.empty() && searching_ == 0) ? AddSearcherLocked() : nullptr;
    lock.unlock();
    if (helper != nullptr) Wake(helper);
    runner_(std::move(task));
    lock.lock();
    ++searching_;
  }
  // Exit, lock held.
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
    for (Worker* w : idle) w->stop = true;
  }
  for (Worker* w : idle) Wake(w);
  // Running and searching workers finish what is queued (the server cancelled those calls, so
  // their handlers return promptly) and then exit.
  for (;;) {
    std::vector<std::unique_ptr<Worker>> finished;
    bool alive = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished.swap(exited_);
      alive = !workers_.empty();
    }
    for (auto& w : finished) w->thread.join();
    if (!alive) {
      std::lock_guard<std::mutex> lock(mu_);
      if (exited_.empty()) return;
      continue;
    }
    if (finished.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace h2rpc::internal
