// ReturnedBuffers: large message buffers a reader thread is done with, handed back to the I/O
// thread's deframer, so a stream of large messages reuses a few buffers instead of allocating
// (and faulting in) a fresh one per message.
//
// Several slots, not one: a reader that fell behind and catches up returns buffers in a burst;
// with one slot all but one were freed, and ~7 % of a 1 MiB stream's messages still got a
// fresh buffer. Memory stays bounded by kSlots buffers per stream, each a message the reader
// already had.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

namespace h2rpc::transport {

class ReturnedBuffers {
 public:
  static constexpr size_t kSlots = 4;

  ReturnedBuffers() = default;
  ~ReturnedBuffers() {
    while (Take()) {
    }
  }
  ReturnedBuffers(const ReturnedBuffers&) = delete;
  ReturnedBuffers& operator=(const ReturnedBuffers&) = delete;

  /// Reader thread: keeps `buffer` if it is large enough to be worth it and a slot is free;
  /// otherwise it is freed here.
  void Give(std::string&& buffer);
  /// I/O thread: a returned buffer, or null.
  std::unique_ptr<std::string> Take() {
    for (auto& slot : slots_) {
      if (std::string* buffer = slot.exchange(nullptr, std::memory_order_acquire)) {
        return std::unique_ptr<std::string>(buffer);
      }
    }
    return nullptr;
  }

 private:
  std::array<std::atomic<std::string*>, kSlots> slots_{};
};

/// The same, allocated on the first large buffer: one pointer in objects that exist per call
/// and must stay small (most calls never carry a large message).
class LazyReturnedBuffers {
 public:
  LazyReturnedBuffers() = default;
  ~LazyReturnedBuffers() { std::unique_ptr<ReturnedBuffers> owned(buffers_.load()); }
  LazyReturnedBuffers(const LazyReturnedBuffers&) = delete;
  LazyReturnedBuffers& operator=(const LazyReturnedBuffers&) = delete;

  /// Reader thread.
  void Give(std::string&& buffer);
  /// I/O thread.
  std::unique_ptr<std::string> Take() {
    ReturnedBuffers* buffers = buffers_.load(std::memory_order_acquire);
    return buffers != nullptr ? buffers->Take() : nullptr;
  }

 private:
  std::atomic<ReturnedBuffers*> buffers_{nullptr};
};

}  // namespace h2rpc::transport
