#include "transport/block_recycler.h"

namespace h2rpc::transport {

BlockRecycler::~BlockRecycler() {
  for (void* block : free_) ::operator delete(block);
}

void* BlockRecycler::Allocate(size_t size) {
  if constexpr (kKeepsBlocks) {
    std::lock_guard<std::mutex> lock(mu_);
    if (block_size_ == 0) block_size_ = size;
    if (size == block_size_ && !free_.empty()) {
      void* block = free_.back();
      free_.pop_back();
      return block;
    }
  }
  return ::operator new(size);
}

void BlockRecycler::Release(void* block, size_t size) noexcept {
  if constexpr (kKeepsBlocks) {
    std::lock_guard<std::mutex> lock(mu_);
    if (size == block_size_ && free_.size() < keep_) {
      // Reserved whole at the first keep, so that this push never allocates (noexcept).
      if (free_.capacity() < keep_) {
        try {
          free_.reserve(keep_);
        } catch (const std::bad_alloc&) {
          ::operator delete(block);
          return;
        }
      }
      free_.push_back(block);
      return;
    }
  }
  ::operator delete(block);
}

size_t BlockRecycler::kept_blocks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return free_.size();
}

}  // namespace h2rpc::transport
