// Large received messages kept as references into the buffers the socket was read into, so the
// only user-space copy of a payload is the one protobuf's parser makes (grpc++ keeps its slices
// the same way). Without this, every DATA chunk was first copied into a message buffer: a fifth
// of the client's CPU time when streaming 1 MiB messages. Client and server both use it.
//
// Threads: the I/O thread reads into a ReadSlab and builds a PayloadAssembly per stream; the
// finished pieces travel with the message to the reading thread (caller or handler), which
// parses or flattens them and lets go. A slab is freed by whichever thread drops its last piece.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace h2rpc::transport {

/// A run of payload bytes and the buffer that keeps them alive.
struct PayloadPiece {
  std::shared_ptr<const uint8_t[]> owner;
  const uint8_t* data = nullptr;
  size_t size = 0;
};
using PayloadPieces = std::vector<PayloadPiece>;

/// Total bytes of `pieces`.
size_t PiecesSize(std::span<const PayloadPiece> pieces);
/// Replaces `*out`'s contents with the pieces' bytes, in order (keeps its capacity).
void FlattenPieces(std::span<const PayloadPiece> pieces, std::string* out);

class SlabPool;

/// The buffer socket reads go into. Bytes a PayloadAssembly referenced stay untouched: the next
/// read goes after them, or into another slab once too little room is left. Slabs whose last
/// piece is gone come back for reuse (a few are kept), so a stream of large messages does not
/// map and fault in fresh memory for every slab.
class ReadSlab {
 public:
  explicit ReadSlab(size_t size);
  ~ReadSlab();
  ReadSlab(const ReadSlab&) = delete;
  ReadSlab& operator=(const ReadSlab&) = delete;

  /// Where the next read goes, and how much it may take. Starts a new slab if the current one
  /// has less than a quarter of its size left.
  std::span<uint8_t> PrepareRead();
  /// The bytes the last read put at PrepareRead()'s span; nghttp2 is fed these.
  void OnRead(size_t n) { last_read_ = {free_begin(), n}; }
  /// Called after the last read was fully processed: keeps its bytes if a piece references them.
  void FinishRead();

  /// Whether [data, data + size) lies in the last read's bytes (so a piece may reference it).
  bool InLastRead(const uint8_t* data, size_t size) const {
    return data >= last_read_.data() && data + size <= last_read_.data() + last_read_.size();
  }
  /// A reference to the slab that holds the last read, for a piece; marks its bytes as kept.
  const std::shared_ptr<uint8_t[]>& Pin() {
    pinned_ = true;
    return buffer_;
  }
  size_t size() const { return size_; }
  /// Changes whenever reads move to a new slab.
  uint64_t generation() const { return generation_; }

 private:
  uint8_t* free_begin() const { return buffer_.get() + used_; }

  const size_t size_;
  std::shared_ptr<SlabPool> pool_;
  std::shared_ptr<uint8_t[]> buffer_;
  size_t used_ = 0;  // bytes at the front that pieces may reference
  std::span<uint8_t> last_read_;
  uint64_t generation_ = 0;
  bool pinned_ = false;
};

/// One large message being received: its pieces, either references into read slabs or, where a
/// reference would keep too much memory alive, copies.
class PayloadAssembly {
 public:
  /// Adds the next `size` payload bytes at `data`, which came from `slab`'s last read or (if
  /// not) from elsewhere in nghttp2's input.
  ///
  /// Memory bound: the slabs a message references add up to at most twice its bytes plus two
  /// slabs, and the copies at most its bytes plus one 64 KiB buffer. A peer that interleaves
  /// many streams or sends tiny DATA frames (so each slab holds little of any one message) gets
  /// its bytes copied instead, as before this existed.
  void Add(ReadSlab& slab, const uint8_t* data, size_t size);
  /// The finished message's pieces; the assembly starts over.
  PayloadPieces Take();
  void Clear() { *this = PayloadAssembly(); }
  size_t bytes() const { return bytes_; }

 private:
  void Copy(const uint8_t* data, size_t size);

  PayloadPieces pieces_;
  size_t bytes_ = 0;
  size_t pinned_ = 0;             // slab bytes the pieces keep alive
  uint64_t last_generation_ = 0;  // the slab the last reference went to
  // The buffer copies go into, while it has room.
  std::shared_ptr<uint8_t[]> copy_buffer_;
  size_t copy_used_ = 0;
  size_t copy_capacity_ = 0;
};

}  // namespace h2rpc::transport
