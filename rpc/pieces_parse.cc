#include "rpc/pieces_parse.h"

#include <google/protobuf/io/zero_copy_stream.h>
#include <google/protobuf/message_lite.h>

#include <cstdint>
#include <utility>

namespace h2rpc::internal {

namespace {

/// Protobuf's view of a message received as pieces (each far below 2 GiB: a read slab's size).
class PiecesInputStream final : public google::protobuf::io::ZeroCopyInputStream {
 public:
  explicit PiecesInputStream(std::span<const transport::PayloadPiece> pieces) : pieces_(pieces) {}

  bool Next(const void** data, int* size) override {
    if (backed_up_ == 0) {
      while (next_ < pieces_.size() && pieces_[next_].size == 0) ++next_;
      if (next_ == pieces_.size()) return false;
      last_ = &pieces_[next_++];
      backed_up_ = static_cast<int>(last_->size);
    }
    *data = last_->data + last_->size - static_cast<size_t>(backed_up_);
    *size = backed_up_;
    position_ += backed_up_;
    backed_up_ = 0;
    return true;
  }
  void BackUp(int count) override {
    backed_up_ = count;
    position_ -= count;
  }
  bool Skip(int count) override {
    const void* data = nullptr;
    int size = 0;
    while (count > 0) {
      if (!Next(&data, &size)) return false;
      if (size > count) {
        BackUp(size - count);
        return true;
      }
      count -= size;
    }
    return true;
  }
  int64_t ByteCount() const override { return position_; }

 private:
  std::span<const transport::PayloadPiece> pieces_;
  size_t next_ = 0;
  const transport::PayloadPiece* last_ = nullptr;
  int backed_up_ = 0;  // bytes at the end of *last_ given back by BackUp
  int64_t position_ = 0;
};

}  // namespace

Status ParsePieces(std::span<const transport::PayloadPiece> pieces,
                   google::protobuf::MessageLite* message) {
  PiecesInputStream stream(pieces);
  if (message->ParseFromZeroCopyStream(&stream)) return Status();
  return Status(StatusCode::kInternal, "failed to parse " + message->GetTypeName());
}

bool ParsePiecesIntoOrFail(std::span<const transport::PayloadPiece> pieces,
                           google::protobuf::MessageLite* message, Status* error) {
  Status s = ParsePieces(pieces, message);
  if (s.ok()) return true;
  if (error->ok()) *error = std::move(s);
  return false;
}

}  // namespace h2rpc::internal
