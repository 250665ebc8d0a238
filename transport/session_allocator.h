// SessionAllocator: the memory functions (nghttp2_mem) of one nghttp2 session.
//
// nghttp2 allocates and frees about 18 small blocks per unary call (stream, outbound items,
// copies of the header lists we submit, ...). Through glibc those cost ~4k instructions per
// call on the server's I/O thread: with eight or more calls in one socket batch the thread
// cache (7 blocks per size) overflows, and frees fall through to the locked arena path. Here
// each session keeps its own free lists per size class: the session has one owning thread, so
// no lock is needed, and a block freed by one call serves the next call's allocation.
//
// Bounded: each class keeps at most kKeepBytesPerClass of free blocks, anything beyond goes
// back to malloc (64 KiB holds the two or three 256-byte blocks of each of 100 calls in flight;
// an 8 KiB bound sent them to glibc's locked bins under h2load, 5 % more instructions per
// call). Blocks above the largest class are plain malloc, and everything kept is released when
// the allocator is destroyed (after its session). Under AddressSanitizer every request goes
// straight to malloc/free so that ASan still sees each block's lifetime.
#pragma once

#include <nghttp2/nghttp2.h>

#include <array>
#include <cstddef>
#include <cstdint>

#if defined(__SANITIZE_ADDRESS__)
#define H2RPC_SESSION_ALLOCATOR_PASSTHROUGH 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define H2RPC_SESSION_ALLOCATOR_PASSTHROUGH 1
#endif
#endif

namespace h2rpc::transport {

class SessionAllocator {
 public:
  static constexpr size_t kClasses = 8;  // 32, 64, ..., 4096 bytes
  static constexpr size_t kSmallestClass = 32;
  static constexpr size_t kKeepBytesPerClass = 64 * 1024;
#ifdef H2RPC_SESSION_ALLOCATOR_PASSTHROUGH
  static constexpr bool kKeepsBlocks = false;
#else
  static constexpr bool kKeepsBlocks = true;
#endif

  SessionAllocator();
  ~SessionAllocator();
  SessionAllocator(const SessionAllocator&) = delete;
  SessionAllocator& operator=(const SessionAllocator&) = delete;

  /// Pass to nghttp2_session_{client,server}_new3; valid while this allocator lives, which
  /// must be longer than the session's life.
  nghttp2_mem* mem() { return &mem_; }

  void* Allocate(size_t size);
  void Release(void* ptr);
  void* Reallocate(void* ptr, size_t size);

  /// Free blocks currently kept (for tests).
  size_t kept_blocks() const;

 private:
  struct FreeBlock {
    FreeBlock* next;
  };

  nghttp2_mem mem_;
  std::array<FreeBlock*, kClasses> free_{};
  std::array<uint32_t, kClasses> kept_{};
};

}  // namespace h2rpc::transport
