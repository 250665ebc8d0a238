#include "transport/server_wait_word.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>

namespace h2rpc::transport {

// The futex syscall needs the address of a plain 32-bit integer.
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
static_assert(std::atomic<uint32_t>::is_always_lock_free);

void WaitWord::Sleep(uint32_t expected) {
  // EAGAIN (the word changed), EINTR and spurious returns all lead back to the caller's check.
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word_), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
}

void WaitWord::Wake() {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word_), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
          nullptr, 0);
}

}  // namespace h2rpc::transport
