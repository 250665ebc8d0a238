#include "rpc/client_call.h"

#include <google/protobuf/message_lite.h>

#include <climits>
#include <cstdint>

#include "rpc/client_call_state.h"
#include "rpc/client_context.h"
#include "rpc/pieces_parse.h"
#include "rpc/serialization.h"
#include "transport/payload_pieces.h"

namespace h2rpc {

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
  return internal::ParsePiecesIntoOrFail(pieces, message, parse_error);
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
