#include "rpc/client_stream.h"

#include <string>
#include <utility>

#include "rpc/channel.h"
#include "rpc/client_context.h"

namespace h2rpc {

Status BlockingUnaryCall(Channel& channel, std::string_view method, ClientContext& context,
                         const google::protobuf::MessageLite& request,
                         google::protobuf::MessageLite* response) {
  std::string response_bytes;
  Status status = channel.UnaryCall(context, method, request, &response_bytes);
  if (!status.ok()) return status;
  status = internal::Parse(response_bytes, response);
  channel.internal_recycle_buffer(std::move(response_bytes));
  return status;
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
  std::string bytes;
  const bool got = call_->Read(&bytes);
  Status status = call_->Finish();
  if (!write_error_.ok()) return write_error_;
  if (!status.ok()) return status;
  if (!got) return Status(StatusCode::kInternal, "server returned OK without a response message");
  return Parse(bytes, response);
}

}  // namespace internal
}  // namespace h2rpc
