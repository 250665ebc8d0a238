// ServerCall: the handler's side of one stream of serialized messages (the generic API).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "rpc/client_call.h"  // WriteOptions

namespace h2rpc {

namespace internal {
class ServerCallState;
}

/// Concurrency: like ClientCall, one thread may Write while another Reads.
class ServerCall {
 public:
  explicit ServerCall(std::shared_ptr<internal::ServerCallState> state);
  ~ServerCall();
  ServerCall(const ServerCall&) = delete;
  ServerCall& operator=(const ServerCall&) = delete;

  /// Next request message. False when the client half-closed (or the call was cancelled).
  bool Read(std::string* message);
  /// Sends one serialized response message (initial metadata go first, once). Blocks while the
  /// client's window and the send budget are full; false if the call is over.
  bool Write(std::string_view message, const WriteOptions& options = {});
  /// Sends initial metadata now (otherwise they go with the first message or the status).
  bool SendInitialMetadata();

 private:
  std::shared_ptr<internal::ServerCallState> state_;
};

}  // namespace h2rpc
