// ServerCall: the handler's side of one stream of serialized messages (the generic API).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "rpc/client_call.h"  // WriteOptions

namespace google::protobuf {
class MessageLite;
}

namespace h2rpc {

namespace internal {
class ServerCallState;
}
namespace transport {
class ReturnedBuffers;
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
  /// Write() of a protobuf message; unless the response is compressed it is serialized straight
  /// into the frame nghttp2 sends, with no intermediate copy (what the typed API uses).
  bool WriteMessage(const google::protobuf::MessageLite& message, const WriteOptions& options = {});
  /// Sends initial metadata now (otherwise they go with the first message or the status).
  bool SendInitialMetadata();

 private:
  bool CheckSendSize(size_t size);
  bool SubmitFramed(std::shared_ptr<std::string> framed);

  std::shared_ptr<internal::ServerCallState> state_;
  /// Frame buffers of large responses, reused once the I/O thread sent them (WriteMessage).
  std::shared_ptr<transport::ReturnedBuffers> send_buffers_;
};

}  // namespace h2rpc
