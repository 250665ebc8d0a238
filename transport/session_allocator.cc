#include "transport/session_allocator.h"

#include <bit>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace h2rpc::transport {
namespace {

// In front of every block: which class it belongs to (kClasses for a block above the largest
// class) and how many bytes it holds. 16 bytes keep the caller's pointer 16-byte aligned, as
// malloc's is.
struct alignas(16) BlockHeader {
  uint32_t size_class;
  size_t capacity;
};
static_assert(sizeof(BlockHeader) == 16);

constexpr size_t kLargeClass = SessionAllocator::kClasses;

constexpr size_t ClassCapacity(size_t size_class) {
  return SessionAllocator::kSmallestClass << size_class;
}

constexpr size_t ClassFor(size_t size) {
  if (size <= SessionAllocator::kSmallestClass) return 0;
  return static_cast<size_t>(std::bit_width(size - 1)) -
         static_cast<size_t>(std::bit_width(SessionAllocator::kSmallestClass - 1));
}
static_assert(ClassFor(1) == 0 && ClassFor(32) == 0 && ClassFor(33) == 1 && ClassFor(64) == 1 &&
              ClassFor(4096) == 7 && ClassFor(4097) == 8);

constexpr uint32_t KeepLimit(size_t size_class) {
  const size_t by_bytes = SessionAllocator::kKeepBytesPerClass / ClassCapacity(size_class);
  return static_cast<uint32_t>(by_bytes < 4 ? 4 : by_bytes);
}

BlockHeader* HeaderOf(void* ptr) { return static_cast<BlockHeader*>(ptr) - 1; }

[[maybe_unused]] void* NewBlock(uint32_t size_class, size_t capacity) {
  void* raw = std::malloc(sizeof(BlockHeader) + capacity);
  if (raw == nullptr) return nullptr;
  auto* header = static_cast<BlockHeader*>(raw);
  header->size_class = size_class;
  header->capacity = capacity;
  return header + 1;
}

void* MallocThunk(size_t size, void* self) {
  return static_cast<SessionAllocator*>(self)->Allocate(size);
}
void FreeThunk(void* ptr, void* self) { static_cast<SessionAllocator*>(self)->Release(ptr); }
void* CallocThunk(size_t count, size_t size, void* self) {
  if (size != 0 && count > std::numeric_limits<size_t>::max() / size) return nullptr;
  void* ptr = static_cast<SessionAllocator*>(self)->Allocate(count * size);
  if (ptr != nullptr) std::memset(ptr, 0, count * size);
  return ptr;
}
void* ReallocThunk(void* ptr, size_t size, void* self) {
  return static_cast<SessionAllocator*>(self)->Reallocate(ptr, size);
}

}  // namespace

SessionAllocator::SessionAllocator()
    : mem_{this, MallocThunk, FreeThunk, CallocThunk, ReallocThunk} {}

SessionAllocator::~SessionAllocator() {
  for (FreeBlock*& head : free_) {
    while (head != nullptr) {
      FreeBlock* next = head->next;
      std::free(HeaderOf(head));
      head = next;
    }
  }
}

void* SessionAllocator::Allocate(size_t size) {
#ifdef H2RPC_SESSION_ALLOCATOR_PASSTHROUGH
  return std::malloc(size);
#else
  const size_t size_class = ClassFor(size);
  if (size_class >= kClasses) {
    if (size > std::numeric_limits<size_t>::max() - sizeof(BlockHeader)) return nullptr;
    return NewBlock(kLargeClass, size);
  }
  if (FreeBlock* block = free_[size_class]; block != nullptr) {
    free_[size_class] = block->next;
    --kept_[size_class];
    return block;
  }
  return NewBlock(static_cast<uint32_t>(size_class), ClassCapacity(size_class));
#endif
}

void SessionAllocator::Release(void* ptr) {
#ifdef H2RPC_SESSION_ALLOCATOR_PASSTHROUGH
  std::free(ptr);
#else
  if (ptr == nullptr) return;
  const uint32_t size_class = HeaderOf(ptr)->size_class;
  if (size_class == kLargeClass || kept_[size_class] >= KeepLimit(size_class)) {
    std::free(HeaderOf(ptr));
    return;
  }
  auto* block = static_cast<FreeBlock*>(ptr);
  block->next = free_[size_class];
  free_[size_class] = block;
  ++kept_[size_class];
#endif
}

void* SessionAllocator::Reallocate(void* ptr, size_t size) {
#ifdef H2RPC_SESSION_ALLOCATOR_PASSTHROUGH
  return std::realloc(ptr, size);
#else
  if (ptr == nullptr) return Allocate(size);
  if (size == 0) {
    Release(ptr);
    return nullptr;
  }
  const size_t capacity = HeaderOf(ptr)->capacity;
  if (size <= capacity) return ptr;
  void* grown = Allocate(size);
  if (grown == nullptr) return nullptr;  // like realloc: the old block stays valid
  std::memcpy(grown, ptr, capacity);
  Release(ptr);
  return grown;
#endif
}

size_t SessionAllocator::kept_blocks() const {
  size_t total = 0;
  for (uint32_t count : kept_) total += count;
  return total;
}

}  // namespace h2rpc::transport
