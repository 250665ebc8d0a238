#include "transport/payload_pieces.h"

#include <algorithm>
#include <cstring>
#include <mutex>

namespace h2rpc::transport {

namespace {
// Copies (the fallback) go into buffers of this size, filled before the next is started.
constexpr size_t kCopyBufferSize = 64 * 1024;
// Idle slabs kept for reuse: enough for the pieces of a couple of 1 MiB messages.
constexpr size_t kMaxIdleSlabs = 32;
}  // namespace

/// Slabs no piece references any more, for the next reads. A slab's last owner (the I/O thread
/// or a reader) hands it back through the deleter of its shared_ptr; the mutex orders the
/// reader's last use of the bytes before the next read into them.
class SlabPool : public std::enable_shared_from_this<SlabPool> {
 public:
  explicit SlabPool(size_t slab_size) : slab_size_(slab_size) {}

  std::shared_ptr<uint8_t[]> Take() {
    std::unique_ptr<uint8_t[]> slab;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (!idle_.empty()) {
        slab = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    if (slab == nullptr) slab = std::make_unique_for_overwrite<uint8_t[]>(slab_size_);
    return std::shared_ptr<uint8_t[]>(slab.release(), GiveBack{shared_from_this()});
  }

 private:
  struct GiveBack {
    std::shared_ptr<SlabPool> pool;
    void operator()(uint8_t* bytes) const {
      std::unique_ptr<uint8_t[]> slab(bytes);
      const std::lock_guard<std::mutex> lock(pool->mutex_);
      if (pool->idle_.size() < kMaxIdleSlabs) pool->idle_.push_back(std::move(slab));
    }
  };

  const size_t slab_size_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<uint8_t[]>> idle_;
};

size_t PiecesSize(std::span<const PayloadPiece> pieces) {
  size_t total = 0;
  for (const PayloadPiece& piece : pieces) total += piece.size;
  return total;
}

void FlattenPieces(std::span<const PayloadPiece> pieces, std::string* out) {
  out->clear();
  out->reserve(PiecesSize(pieces));
  for (const PayloadPiece& piece : pieces) {
    out->append(reinterpret_cast<const char*>(piece.data), piece.size);
  }
}

ReadSlab::ReadSlab(size_t size) : size_(size), pool_(std::make_shared<SlabPool>(size)) {}

ReadSlab::~ReadSlab() = default;

std::span<uint8_t> ReadSlab::PrepareRead() {
  if (buffer_ == nullptr || size_ - used_ < size_ / 4) {
    buffer_ = pool_->Take();
    used_ = 0;
    ++generation_;
  }
  return {free_begin(), size_ - used_};
}

void ReadSlab::FinishRead() {
  if (pinned_) used_ += last_read_.size();
  pinned_ = false;
  last_read_ = {};
}

void PayloadAssembly::Add(ReadSlab& slab, const uint8_t* data, size_t size) {
  bytes_ += size;
  if (slab.InLastRead(data, size)) {
    const bool new_slab = slab.generation() != last_generation_;
    const size_t pinned = pinned_ + (new_slab ? slab.size() : 0);
    if (pinned <= 2 * bytes_ + 2 * slab.size()) {
      const std::shared_ptr<uint8_t[]>& owner = slab.Pin();
      pinned_ = pinned;
      last_generation_ = slab.generation();
      if (!pieces_.empty() && pieces_.back().owner == owner &&
          pieces_.back().data + pieces_.back().size == data) {
        pieces_.back().size += size;
      } else {
        pieces_.push_back({owner, data, size});
      }
      return;
    }
  }
  Copy(data, size);
}

void PayloadAssembly::Copy(const uint8_t* data, size_t size) {
  while (size > 0) {
    if (copy_used_ == copy_capacity_) {
      copy_buffer_ = std::make_shared_for_overwrite<uint8_t[]>(kCopyBufferSize);
      copy_capacity_ = kCopyBufferSize;
      copy_used_ = 0;
    }
    const size_t n = std::min(size, copy_capacity_ - copy_used_);
    uint8_t* at = copy_buffer_.get() + copy_used_;
    std::memcpy(at, data, n);
    if (!pieces_.empty() && pieces_.back().owner == copy_buffer_ &&
        pieces_.back().data + pieces_.back().size == at) {
      pieces_.back().size += n;
    } else {
      pieces_.push_back({copy_buffer_, at, n});
    }
    copy_used_ += n;
    data += n;
    size -= n;
  }
}

PayloadPieces PayloadAssembly::Take() {
  PayloadPieces pieces = std::move(pieces_);
  Clear();
  return pieces;
}

}  // namespace h2rpc::transport
