#include "rpc/client_stream.h"

#include "rpc/channel.h"
#include "rpc/client_context.h"

namespace h2rpc {

Status BlockingUnaryCall(Channel& channel, std::string_view method, ClientContext& context,
                         const google::protobuf::MessageLite& request,
                         google::protobuf::MessageLite* response) {
  return channel.internal_unary_call(context, method, request, response);
}

namespace internal {

ClientStreamCore::ClientStreamCore(Channel& channel, std::string_view method,
                                   ClientContext& context)
    : call_(channel.StartCall(context, method)) {}

ClientStreamCore::~ClientStreamCore() = default;

void ClientStreamCore::SendOnlyRequest(const google::protobuf::MessageLite& request) {
  // Half-close even if the request failed to serialize, so the call ends (the server sees no
  // request) instead of waiting for its deadline; Finish() then reports the local error.
  Write(request, {});
  call_->WritesDone();
}

bool ClientStreamCore::WaitForInitialMetadata() { return call_->WaitForInitialMetadata(); }

bool ClientStreamCore::Write(const google::protobuf::MessageLite& message,
                             const WriteOptions& options) {
  return call_->WriteMessage(message, options);
}

bool ClientStreamCore::WritesDone() { return call_->WritesDone(); }

bool ClientStreamCore::Read(google::protobuf::MessageLite* message) {
  return call_->ReadMessage(message, &read_buffer_, &read_error_);
}

Status ClientStreamCore::Finish() {
  Status status = call_->Finish();
  if (!write_error_.ok()) return write_error_;
  return Merge(std::move(status), std::move(read_error_));
}

Status ClientStreamCore::FinishWithResponse(google::protobuf::MessageLite* response) {
  Status parse_error;  // a large response is parsed from the transport's read buffers
  const bool got = call_->ReadMessage(response, &read_buffer_, &parse_error);
  Status status = call_->Finish();
  if (!write_error_.ok()) return write_error_;
  if (!status.ok()) return status;
  if (!parse_error.ok()) return parse_error;
  if (!got) return Status(StatusCode::kInternal, "server returned OK without a response message");
  return status;
}

}  // namespace internal
}  // namespace h2rpc
