// BufferPool: large message buffers shared by every call of one channel (client) or one server,
// so a sequence of large unary calls, or a stream of large messages, reuses a few buffers
// instead of allocating, zero-filling and faulting in fresh megabytes per message. On this kind
// of VM a page fault costs several microseconds: a 1 MiB unary call each way spent three
// quarters of its client CPU in fresh buffers before this existed.
//
// Readers give back the buffer of a message they are done with; outgoing frames give theirs
// back once sent; every deframer of the channel or server draws on the pool for its next large
// message. One pool, not one per stream: memory stays bounded per channel however many large
// streams are open.
//
// Any thread may give or take. Bounded twice: at most kSlots buffers and at most the byte
// budget in total; anything beyond is freed at once. Small buffers are never kept (the
// allocator serves those from its caches without faults).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

#include "codec/framing.h"

namespace h2rpc::transport {

class BufferPool {
 public:
  static constexpr size_t kSlots = 8;
  static constexpr size_t kDefaultByteBudget = 8 * 1024 * 1024;

  explicit BufferPool(size_t byte_budget = kDefaultByteBudget) : byte_budget_(byte_budget) {}
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  /// Keeps `buffer` if it is large, fits the budget and a slot is free; otherwise frees it.
  void Give(std::string&& buffer);
  /// A kept buffer (any capacity above the small-buffer line, contents unspecified), or null.
  std::unique_ptr<std::string> Take();
  /// The same for code that wants a plain string: empty (no capacity) if none is kept.
  std::string TakeOrEmpty();

  size_t held_bytes() const { return held_bytes_.load(std::memory_order_relaxed); }

  /// A codec::Deframer::BufferSource over the pool passed as `pool` (a BufferPool*).
  static std::string TakeForDeframer(void* pool) {
    return static_cast<BufferPool*>(pool)->TakeOrEmpty();
  }
  /// Deframer hooks that read large messages into buffers from the pool given as context.
  static constexpr codec::Deframer::Hooks kDeframerHooks{&TakeForDeframer, nullptr};

 private:
  const size_t byte_budget_;
  std::atomic<size_t> held_bytes_{0};
  std::array<std::atomic<std::string*>, kSlots> slots_{};
};

/// Send side: a buffer of exactly `size` bytes (contents unspecified) for one outgoing framed
/// message. Large ones come from `pool` and go back to it when their last owner lets go (the
/// I/O thread, once the kernel took every byte); small ones are plain strings.
std::shared_ptr<std::string> MakeSendBuffer(const std::shared_ptr<BufferPool>& pool, size_t size);

}  // namespace h2rpc::transport
