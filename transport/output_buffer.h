// OutputBuffer: frames waiting for the socket, written with gather I/O (writev).
//
// Small frames (HEADERS, SETTINGS, WINDOW_UPDATE, DATA frame headers) are copied into owned
// segments; message bytes are referenced in place (no second copy) and kept alive by a
// shared_ptr until the kernel has taken them.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

namespace h2rpc::transport {

class OutputBuffer {
 public:
  /// Copies `len` bytes (coalescing with the previous owned segment when it has room).
  void AppendCopy(const uint8_t* data, size_t len);
  /// References `len` bytes at `data`, owned by `owner`.
  void AppendRef(std::shared_ptr<const std::string> owner, const char* data, size_t len);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  /// Writes as much as possible. `writev_fn` has writev's contract (returns bytes written or -1
  /// with errno). Returns bytes written; 0 with errno EAGAIN means the socket is full; -1 on a
  /// hard error (errno set).
  ssize_t Flush(const std::function<ssize_t(const iovec*, int)>& writev_fn);
  /// Flush to a plain socket fd.
  ssize_t FlushTo(int fd);

  void Clear();

  /// Whether an unwritten segment still references bytes of `owner` (the string its
  /// AppendRef owner points to). Such a string must not change until it is written.
  bool References(const std::string* owner) const;

  /// Capacity kept from written copies for the next ones (for tests; at most 16 KiB).
  size_t spare_capacity() const { return spare_.capacity(); }

 private:
  struct Segment {
    std::string owned;                         // used when `owner` is null
    std::shared_ptr<const std::string> owner;  // keeps referenced bytes alive
    const char* data = nullptr;                // start of unwritten bytes
    size_t len = 0;                            // unwritten bytes
  };
  void Consume(size_t n);

  std::deque<Segment> segments_;
  size_t size_ = 0;
  // The capacity of the last owned segment written out, for the next one: a socket batch
  // coalesces its frames into a segment grown 256 B -> 16 KiB, and growing a fresh one for each
  // batch cost seven allocations, the larger ones also a consolidation of glibc's fast bins.
  std::string spare_;
};

}  // namespace h2rpc::transport
