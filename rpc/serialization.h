// Protobuf (MessageLite) serialization used by the typed API and generated code. Out of line:
// generated code calls these per method, and every inline body would be compiled again in each
// generated .cc.
#pragma once

#include <string>

#include "codec/status.h"

namespace google::protobuf {
class MessageLite;
}

namespace h2rpc::internal {

Status Serialize(const google::protobuf::MessageLite& message, std::string* out);
Status Parse(const std::string& bytes, google::protobuf::MessageLite* message);

/// Parses; on failure records the first error in `*error` and returns false.
bool ParseIntoOrFail(const std::string& bytes, google::protobuf::MessageLite* message,
                     Status* error);

/// The call's own status wins unless it is OK and a local parse error happened.
Status Merge(Status call_status, Status local_error);

}  // namespace h2rpc::internal
