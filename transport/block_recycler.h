// BlockRecycler: keeps freed blocks of one size for the next allocation, across threads.
//
// A server's per-call state (~1 KiB) is allocated on an I/O thread and freed on whichever thread
// drops the last reference. With a hundred calls in flight glibc's per-thread cache (7 blocks
// per size) runs dry on the allocating thread and overflows on the freeing ones, and blocks this
// large then go through the arena's locked bins: callgrind counted ~500 instructions per
// malloc/free pair under h2load. Here a pair is one uncontended mutex and a vector push/pop.
//
// Bounded: at most `keep` free blocks are kept (beyond, blocks go back to operator delete), all
// released with the recycler. Blocks of any other size than the first one asked for pass
// straight through. Under AddressSanitizer every block goes straight through, so that ASan
// still sees each block's lifetime.
#pragma once

#include <cstddef>
#include <mutex>
#include <new>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define H2RPC_BLOCK_RECYCLER_PASSTHROUGH 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define H2RPC_BLOCK_RECYCLER_PASSTHROUGH 1
#endif
#endif

namespace h2rpc::transport {

class BlockRecycler {
 public:
#ifdef H2RPC_BLOCK_RECYCLER_PASSTHROUGH
  static constexpr bool kKeepsBlocks = false;
#else
  static constexpr bool kKeepsBlocks = true;
#endif

  explicit BlockRecycler(size_t keep) : keep_(keep) {}
  ~BlockRecycler();
  BlockRecycler(const BlockRecycler&) = delete;
  BlockRecycler& operator=(const BlockRecycler&) = delete;

  /// Any thread. Aligned as operator new aligns; throws std::bad_alloc as it does.
  void* Allocate(size_t size);
  /// Any thread; `size` as allocated.
  void Release(void* block, size_t size) noexcept;

  /// Free blocks kept now (for tests).
  size_t kept_blocks() const;

 private:
  const size_t keep_;
  mutable std::mutex mu_;
  size_t block_size_ = 0;  // the first size asked for; 0 until then
  std::vector<void*> free_;
};

/// A standard allocator over a BlockRecycler, for std::allocate_shared: the object and its
/// control block are one block, and the recycler must outlive every object made with it.
template <class T>
class RecyclingAllocator {
 public:
  using value_type = T;

  explicit RecyclingAllocator(BlockRecycler* recycler) : recycler_(recycler) {}
  template <class U>
  RecyclingAllocator(const RecyclingAllocator<U>& other) : recycler_(other.recycler()) {}

  T* allocate(size_t n) {
    static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
    return static_cast<T*>(recycler_->Allocate(n * sizeof(T)));
  }
  void deallocate(T* p, size_t n) noexcept { recycler_->Release(p, n * sizeof(T)); }

  BlockRecycler* recycler() const { return recycler_; }
  template <class U>
  bool operator==(const RecyclingAllocator<U>& other) const {
    return recycler_ == other.recycler();
  }

 private:
  BlockRecycler* recycler_;
};

}  // namespace h2rpc::transport
