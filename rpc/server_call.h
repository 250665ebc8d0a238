// ServerCall: the handler's side of one stream of serialized messages (the generic API).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "codec/status.h"
#include "rpc/client_call.h"  // WriteOptions

namespace google::protobuf {
class MessageLite;
}

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
  /// Write() of a protobuf message; unless the response is compressed it is serialized straight
  /// into the frame nghttp2 sends, with no intermediate copy (what the typed API uses).
  bool WriteMessage(const google::protobuf::MessageLite& message, const WriteOptions& options = {});
  /// Sends initial metadata now (otherwise they go with the first message or the status).
  bool SendInitialMetadata();

  /// Internal (generated code): a request's bytes, once parsed, go back for the next large
  /// message to be read into (small ones are simply freed).
  void internal_recycle_buffer(std::string&& buffer);
  /// Internal (generated code): reads the next request into `message`, a large one parsed
  /// straight from the buffers it was received in; `scratch` holds a small one's bytes. False
  /// at the end of the requests or when parsing failed (the first such error goes to
  /// `*parse_error`).
  bool internal_read_message(google::protobuf::MessageLite* message, std::string* scratch,
                             Status* parse_error);

 private:
  /// The next request: bytes in `*message`, or a large uncompressed one left as `*pieces` when
  /// `pieces` is given (otherwise copied into `*message`).
  bool ReadInto(std::string* message,
                std::unique_ptr<std::vector<transport::PayloadPiece>>* pieces);
  bool CheckSendSize(size_t size);
  bool SubmitFramed(std::shared_ptr<std::string> framed);

  std::shared_ptr<internal::ServerCallState> state_;
};

}  // namespace h2rpc
