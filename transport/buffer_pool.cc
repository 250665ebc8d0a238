#include "transport/buffer_pool.h"

#include <utility>

#include "codec/framing.h"

namespace h2rpc::transport {

BufferPool::~BufferPool() {
  for (auto& slot : slots_) {
    std::unique_ptr<std::string> owned(slot.exchange(nullptr, std::memory_order_acquire));
  }
}

void BufferPool::Give(std::string&& buffer) {
  const size_t capacity = buffer.capacity();
  if (capacity <= codec::kDeframerInitialReserve || capacity > byte_budget_) return;
  // Claim the bytes first so concurrent givers never overshoot the budget together.
  if (held_bytes_.fetch_add(capacity, std::memory_order_relaxed) + capacity > byte_budget_) {
    held_bytes_.fetch_sub(capacity, std::memory_order_relaxed);
    return;
  }
  auto owned = std::make_unique<std::string>(std::move(buffer));
  for (auto& slot : slots_) {
    if (slot.load(std::memory_order_relaxed) != nullptr) continue;
    std::string* empty = nullptr;
    if (slot.compare_exchange_strong(empty, owned.get(), std::memory_order_acq_rel,
                                     std::memory_order_relaxed)) {
      owned.release();  // the slot owns it now
      return;
    }
  }
  held_bytes_.fetch_sub(capacity, std::memory_order_relaxed);  // every slot taken: freed here
}

std::unique_ptr<std::string> BufferPool::Take() {
  // The common case by far (small messages only): one load, no writes to shared lines.
  if (held_bytes_.load(std::memory_order_relaxed) == 0) return nullptr;
  for (auto& slot : slots_) {
    if (slot.load(std::memory_order_relaxed) == nullptr) continue;
    if (std::string* buffer = slot.exchange(nullptr, std::memory_order_acquire)) {
      held_bytes_.fetch_sub(buffer->capacity(), std::memory_order_relaxed);
      return std::unique_ptr<std::string>(buffer);
    }
  }
  return nullptr;
}

std::string BufferPool::TakeOrEmpty() {
  std::unique_ptr<std::string> buffer = Take();
  return buffer ? std::move(*buffer) : std::string();
}

std::shared_ptr<std::string> MakeSendBuffer(const std::shared_ptr<BufferPool>& pool, size_t size) {
  if (size <= codec::kDeframerInitialReserve || !pool) {
    auto buffer = std::make_shared<std::string>();
    buffer->resize(size);
    return buffer;
  }
  std::unique_ptr<std::string> buffer = pool->Take();
  if (!buffer) buffer = std::make_unique<std::string>();
  buffer->resize(size);  // fills only what the previous message did not cover
  return std::shared_ptr<std::string>(buffer.release(), [pool](std::string* done) {
    std::unique_ptr<std::string> owned(done);
    pool->Give(std::move(*owned));
  });
}

}  // namespace h2rpc::transport
