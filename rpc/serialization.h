// Protobuf (MessageLite) serialization used by the typed API and generated code.
#pragma once

#include <string>

#include <google/protobuf/message_lite.h>

#include "codec/status.h"

namespace h2rpc::internal {

inline Status Serialize(const google::protobuf::MessageLite& message, std::string* out) {
  if (!message.SerializeToString(out)) {
    return Status(StatusCode::kInternal, "failed to serialize " + message.GetTypeName());
  }
  return Status();
}

inline Status Parse(const std::string& bytes, google::protobuf::MessageLite* message) {
  if (!message->ParseFromString(bytes)) {
    return Status(StatusCode::kInternal, "failed to parse " + message->GetTypeName());
  }
  return Status();
}

/// Parses; on failure records the first error in `*error` and returns false.
inline bool ParseIntoOrFail(const std::string& bytes, google::protobuf::MessageLite* message,
                            Status* error) {
  Status s = Parse(bytes, message);
  if (s.ok()) return true;
  if (error->ok()) *error = std::move(s);
  return false;
}

/// The call's own status wins unless it is OK and a local parse error happened.
inline Status Merge(Status call_status, Status local_error) {
  if (call_status.ok() && !local_error.ok()) return local_error;
  return call_status;
}

}  // namespace h2rpc::internal
