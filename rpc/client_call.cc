#include "rpc/client_call.h"

#include <google/protobuf/io/zero_copy_stream.h>
#include <google/protobuf/message_lite.h>

#include <climits>
#include <cstdint>
#include <span>

#include "rpc/client_call_state.h"
#include "rpc/client_context.h"
#include "rpc/serialization.h"
#include "transport/payload_pieces.h"

namespace h2rpc {

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

bool ParsePiecesIntoOrFail(std::span<const transport::PayloadPiece> pieces,
                           google::protobuf::MessageLite* message, Status* error) {
  PiecesInputStream stream(pieces);
  if (message->ParseFromZeroCopyStream(&stream)) return true;
  if (error->ok())
    *error = Status(StatusCode::kInternal, "failed to parse " + message->GetTypeName());
  return false;
}

}  // namespace

ClientCall::ClientCall(ClientContext& context, std::shared_ptr<internal::ClientCallState> state)
    : context_(context), state_(std::move(state)) {}

ClientCall::~ClientCall() {
  if (state_ && !state_->finished()) {
    state_->Cancel(Status(StatusCode::kCancelled, "ClientCall destroyed before the call finished"));
  }
}

bool ClientCall::Write(std::string_view message, const WriteOptions& options) {
  return state_->Write(message, options.no_compression);
}

bool ClientCall::WriteMessage(const google::protobuf::MessageLite& message,
                              const WriteOptions& options) {
  const size_t size = message.ByteSizeLong();  // caches sizes for the serializer below
  if (size > static_cast<size_t>(INT_MAX)) {   // protobuf's own limit
    state_->Cancel(Status(StatusCode::kInternal,
                          "failed to serialize " + message.GetTypeName() + ": larger than 2 GiB"));
    return false;
  }
  return state_->WriteSerialized(
      size,
      [](const void* source, uint8_t* out) {
        static_cast<const google::protobuf::MessageLite*>(source)->SerializeWithCachedSizesToArray(
            out);
      },
      &message, options.no_compression);
}

bool ClientCall::WritesDone() { return state_->WritesDone(); }

bool ClientCall::Read(std::string* message) { return ReadInto(message, nullptr); }

bool ClientCall::ReadMessage(google::protobuf::MessageLite* message, std::string* scratch,
                             Status* parse_error) {
  transport::PayloadPieces pieces;
  if (!ReadInto(scratch, &pieces)) return false;
  if (pieces.empty()) return internal::ParseIntoOrFail(*scratch, message, parse_error);
  return ParsePiecesIntoOrFail(pieces, message, parse_error);
}

bool ClientCall::ReadInto(std::string* message, transport::PayloadPieces* pieces) {
  bool compressed = false;
  const bool got = state_->Read(message, &compressed, pieces);
  if (got) context_.internal_set_last_message_compressed(compressed);
  // Initial metadata always precede the first message (or the end): now they are final.
  state_->TakeInitialMetadata(&context_.internal_initial_metadata());
  return got;
}

bool ClientCall::WaitForInitialMetadata() {
  const bool got = state_->WaitForInitialMetadata();
  state_->TakeInitialMetadata(&context_.internal_initial_metadata());
  return got;
}

Status ClientCall::Finish() {
  // Whatever else arrives is discarded: the I/O thread stops queueing it and gives the window
  // back at once, so a server still streaming is not stalled by a reader that left.
  state_->AbandonReading();
  state_->WaitFinished();
  state_->TakeInitialMetadata(&context_.internal_initial_metadata());
  context_.internal_trailing_metadata() = std::move(state_->trailing_metadata());
  return state_->status();
}

}  // namespace h2rpc
