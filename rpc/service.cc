#include "rpc/service.h"

#include <string>
#include <utility>

namespace h2rpc::internal {

bool ReadMessage(ServerCall& call, google::protobuf::MessageLite* message, Status* parse_error,
                 std::string* buffer) {
  return call.internal_read_message(message, buffer, parse_error);
}

bool WriteMessage(ServerCall& call, const google::protobuf::MessageLite& message,
                  const WriteOptions& options) {
  return call.WriteMessage(message, options);
}

void KeepLinked(const void*) {}

Status Unimplemented(const char* path) {
  return Status(StatusCode::kUnimplemented,
                std::string(path) + " is not implemented by this server");
}

namespace {

Status ReadOnlyRequest(ServerCall& call, google::protobuf::MessageLite& request, const char* kind) {
  std::string bytes;
  Status parse_error;
  const bool got = call.internal_read_message(&request, &bytes, &parse_error);
  call.internal_recycle_buffer(std::move(bytes));  // the next large request reads into it
  if (!parse_error.ok()) return parse_error;
  if (!got) {
    return Status(StatusCode::kInternal,
                  std::string(kind) + " call ended without a request message");
  }
  return Status();
}

Status SendOnlyResponse(ServerCall& call, const google::protobuf::MessageLite& response) {
  if (!call.WriteMessage(response)) {
    return Status(StatusCode::kCancelled, "call ended before the response was sent");
  }
  return Status();
}

}  // namespace

Status ServeUnary(ServerCall& call, google::protobuf::MessageLite& request,
                  const google::protobuf::MessageLite& response, StatusThunk invoke) {
  if (Status s = ReadOnlyRequest(call, request, "unary"); !s.ok()) return s;
  Status status = invoke();
  if (!status.ok()) return status;
  if (Status s = SendOnlyResponse(call, response); !s.ok()) return s;
  return status;
}

Status ServeServerStreaming(ServerCall& call, google::protobuf::MessageLite& request,
                            StatusThunk invoke) {
  if (Status s = ReadOnlyRequest(call, request, "server-streaming"); !s.ok()) return s;
  return invoke();
}

Status FinishClientStreaming(ServerCall& call, const Status& parse_error, Status status,
                             const google::protobuf::MessageLite& response) {
  if (!parse_error.ok()) return parse_error;
  if (!status.ok()) return status;
  if (Status s = SendOnlyResponse(call, response); !s.ok()) return s;
  return status;
}

Status FinishBidiStreaming(const Status& parse_error, Status status) {
  if (!parse_error.ok()) return parse_error;
  return status;
}

}  // namespace h2rpc::internal

namespace h2rpc {

Service::~Service() = default;

void Service::AddMethod(std::string path, RpcKind kind, GenericHandler handler) {
  methods_.push_back({std::move(path), kind, std::move(handler)});
}

void Service::AddErasedHandler(const char* path, RpcKind kind, internal::HandlerRunner runner,
                               internal::ErasedHandler handler) {
  AddMethod(path, kind, [this, runner, handler](ServerContext& context, ServerCall& call) {
    return runner(*this, handler, context, call);
  });
}

}  // namespace h2rpc
