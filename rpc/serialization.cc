#include "rpc/serialization.h"

#include <google/protobuf/message_lite.h>

namespace h2rpc::internal {

Status Serialize(const google::protobuf::MessageLite& message, std::string* out) {
  if (!message.SerializeToString(out)) {
    return Status(StatusCode::kInternal, "failed to serialize " + message.GetTypeName());
  }
  return Status();
}

Status Parse(const std::string& bytes, google::protobuf::MessageLite* message) {
  if (!message->ParseFromString(bytes)) {
    return Status(StatusCode::kInternal, "failed to parse " + message->GetTypeName());
  }
  return Status();
}

bool ParseIntoOrFail(const std::string& bytes, google::protobuf::MessageLite* message,
                     Status* error) {
  Status s = Parse(bytes, message);
  if (s.ok()) return true;
  if (error->ok()) *error = std::move(s);
  return false;
}

Status Merge(Status call_status, Status local_error) {
  if (call_status.ok() && !local_error.ok()) return local_error;
  return call_status;
}

}  // namespace h2rpc::internal
