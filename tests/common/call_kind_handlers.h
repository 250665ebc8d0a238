// Server handlers for the four call kinds, shared by the end-to-end tests (loopback, unix
// sockets, TLS) so that each suite registers the same behaviour under its own method names.
#pragma once

#include <string>

#include "h2rpc.h"

namespace h2rpc::testing {

/// Unary and bidi: every request message goes straight back.
inline Status EchoEach(ServerContext&, ServerCall& call) {
  std::string message;
  while (call.Read(&message)) {
    if (!call.Write(message)) return Status(StatusCode::kCancelled, "write failed");
  }
  return Status();
}

/// Server streaming: `count` replies to one request: "<request>0", "<request>1", ...
inline auto RepeatNumbered(int count) {
  return [count](ServerContext&, ServerCall& call) {
    std::string message;
    if (!call.Read(&message)) return Status(StatusCode::kInternal, "no request");
    for (int i = 0; i < count; ++i) call.Write(message + std::to_string(i));
    return Status();
  };
}

/// Client streaming: one reply, the requests concatenated.
inline Status Concatenate(ServerContext&, ServerCall& call) {
  std::string message, all;
  while (call.Read(&message)) all += message;
  call.Write(all);
  return Status();
}

}  // namespace h2rpc::testing
