// Lock-free multi-producer single-consumer queue (Vyukov's intrusive design, with owned nodes).
//
// Producers never block and never take a lock: Push is one atomic exchange plus one store.
// The single consumer (an I/O thread) pops. A producer preempted between its exchange and its
// store leaves the queue momentarily "not yet linked": TryPop then reports empty, and that
// producer's wake-up (which follows its push) brings the consumer back.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <utility>

namespace h2rpc::transport {

template <class T>
class MpscQueue {
 public:
  MpscQueue() : head_(&stub_), tail_(&stub_) {}
  ~MpscQueue() {
    while (TryPop()) {
    }
  }
  MpscQueue(const MpscQueue&) = delete;
  MpscQueue& operator=(const MpscQueue&) = delete;

  /// Any thread. Wait-free.
  void Push(T value) {
    // Ownership passes to the queue (released here, re-owned in Take) since nodes are linked
    // through atomics.
    Link* node = std::make_unique<Node>(std::move(value)).release();
    Link* prev = head_.exchange(node, std::memory_order_acq_rel);
    prev->next.store(node, std::memory_order_release);
  }

  /// Consumer thread only.
  std::optional<T> TryPop() {
    Link* tail = tail_;
    Link* next = tail->next.load(std::memory_order_acquire);
    if (tail == &stub_) {
      if (next == nullptr) return std::nullopt;
      tail_ = next;
      tail = next;
      next = next->next.load(std::memory_order_acquire);
    }
    if (next != nullptr) {
      tail_ = next;
      return Take(tail);
    }
    if (tail != head_.load(std::memory_order_acquire)) return std::nullopt;  // push in progress
    // `tail` is the last node: put the stub behind it so it can be taken.
    stub_.next.store(nullptr, std::memory_order_relaxed);
    Link* prev = head_.exchange(&stub_, std::memory_order_acq_rel);
    prev->next.store(&stub_, std::memory_order_release);
    next = tail->next.load(std::memory_order_acquire);
    if (next != nullptr) {
      tail_ = next;
      return Take(tail);
    }
    return std::nullopt;
  }

  /// Consumer thread only: a hint (a concurrent push may be in flight).
  bool Empty() const {
    return tail_ == &stub_ && stub_.next.load(std::memory_order_acquire) == nullptr &&
           head_.load(std::memory_order_acquire) == &stub_;
  }

 private:
  // The stub is a bare link: a queue embedded in a per-call object costs no T of its own.
  struct Link {
    std::atomic<Link*> next{nullptr};
  };
  struct Node : Link {
    explicit Node(T v) : value(std::move(v)) {}
    T value;
  };

  /// `link` is never the stub (TryPop steps over it).
  static std::optional<T> Take(Link* link) {
    std::unique_ptr<Node> owned(static_cast<Node*>(link));
    return std::move(owned->value);
  }

  std::atomic<Link*> head_;  // producers push here
  Link* tail_;               // consumer pops here
  Link stub_;
};

}  // namespace h2rpc::transport
