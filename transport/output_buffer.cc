#include "transport/output_buffer.h"

#include <limits.h>
#include <sys/socket.h>

#include <cerrno>

namespace h2rpc::transport {

namespace {
// Owned segments grow up to this before a new one starts; keeps coalescing cheap.
constexpr size_t kOwnedSegmentCapacity = 16 * 1024;
// First allocation of an owned segment; coalesced appends grow it up to the capacity above.
constexpr size_t kInitialOwnedCapacity = 256;
constexpr int kMaxIov = 64;
}  // namespace

void OutputBuffer::AppendCopy(const uint8_t* data, size_t len) {
  if (len == 0) return;
  if (!segments_.empty()) {
    Segment& last = segments_.back();
    // Only append to an owned segment whose unwritten bytes end at the string's end and that
    // has not been partially written (data must stay valid across the string's reallocation).
    if (!last.owner && last.data == last.owned.data() &&
        last.owned.size() + len <= kOwnedSegmentCapacity) {
      last.owned.append(reinterpret_cast<const char*>(data), len);
      last.data = last.owned.data();
      last.len = last.owned.size();
      size_ += len;
      return;
    }
  }
  Segment seg;
  // Start small and let appends grow the string: with no-copy DATA, owned segments (frame
  // headers) alternate with referenced payloads, and reserving the full 16 KiB for each 9-byte
  // header made a 1 MiB response allocate another 1 MiB of capacity it never used. The one
  // spare capacity kept from a written segment is reused first.
  if (spare_.capacity() > seg.owned.capacity()) seg.owned.swap(spare_);
  seg.owned.reserve(len < kInitialOwnedCapacity ? kInitialOwnedCapacity : len);
  seg.owned.assign(reinterpret_cast<const char*>(data), len);
  segments_.push_back(std::move(seg));
  Segment& back = segments_.back();
  back.data = back.owned.data();
  back.len = back.owned.size();
  size_ += len;
}

void OutputBuffer::AppendRef(std::shared_ptr<const std::string> owner, const char* data,
                             size_t len) {
  if (len == 0) return;
  Segment seg;
  seg.owner = std::move(owner);
  seg.data = data;
  seg.len = len;
  segments_.push_back(std::move(seg));
  size_ += len;
}

void OutputBuffer::Consume(size_t n) {
  size_ -= n;
  while (n > 0) {
    Segment& front = segments_.front();
    if (n >= front.len) {
      n -= front.len;
      if (!front.owner && front.owned.capacity() > spare_.capacity() &&
          front.owned.capacity() <= kOwnedSegmentCapacity) {
        spare_.swap(front.owned);
        spare_.clear();
      }
      segments_.pop_front();
    } else {
      front.data += n;
      front.len -= n;
      n = 0;
    }
  }
}

ssize_t OutputBuffer::Flush(const std::function<ssize_t(const iovec*, int)>& writev_fn) {
  ssize_t total = 0;
  while (size_ > 0) {
    iovec iov[kMaxIov];
    int count = 0;
    for (auto it = segments_.begin(); it != segments_.end() && count < kMaxIov; ++it, ++count) {
      iov[count].iov_base = const_cast<char*>(it->data);
      iov[count].iov_len = it->len;
    }
    ssize_t n = writev_fn(iov, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return total;
      return -1;
    }
    if (n == 0) {
      errno = EAGAIN;
      return total;
    }
    Consume(static_cast<size_t>(n));
    total += n;
  }
  return total;
}

ssize_t OutputBuffer::FlushTo(int fd) {
  return Flush([fd](const iovec* iov, int count) {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov);
    msg.msg_iovlen = static_cast<size_t>(count);
    // MSG_NOSIGNAL: a vanished peer must not kill the process with SIGPIPE.
    return sendmsg(fd, &msg, MSG_NOSIGNAL);
  });
}

bool OutputBuffer::References(const std::string* owner) const {
  for (const Segment& segment : segments_) {
    if (segment.owner.get() == owner) return true;
  }
  return false;
}

void OutputBuffer::Clear() {
  segments_.clear();
  size_ = 0;
}

}  // namespace h2rpc::transport
