// ClientCall: one client stream of serialized messages (the generic, untyped API).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "codec/status.h"

namespace google::protobuf {
class MessageLite;
}

namespace h2rpc {

class ClientContext;

namespace internal {
class ClientCallState;
}
namespace transport {
struct PayloadPiece;
}

/// Options for one message write.
struct WriteOptions {
  /// Send this message uncompressed even if the call compresses.
  bool no_compression = false;
};

/// A running call. Concurrency: one thread may Write/WritesDone while another Reads; two
/// concurrent writers or two concurrent readers are a misuse (caught by an assertion in debug
/// builds). Finish() may be called once, after the caller stopped reading and writing.
class ClientCall {
 public:
  ClientCall(ClientContext& context, std::shared_ptr<internal::ClientCallState> state);
  ~ClientCall();  // Cancels the call if it has not finished.
  ClientCall(const ClientCall&) = delete;
  ClientCall& operator=(const ClientCall&) = delete;

  /// Sends one serialized message. Blocks (bounded by the deadline) while the peer's window and
  /// the stream's send budget are full. False if the call is over (read Finish() for why).
  bool Write(std::string_view message, const WriteOptions& options = {});
  /// Write() of a protobuf message; unless the call compresses it is serialized straight into
  /// the frame nghttp2 sends, with no intermediate copy (what the typed API uses).
  bool WriteMessage(const google::protobuf::MessageLite& message, const WriteOptions& options = {});
  /// Half-closes: no more writes. False if the call is already over.
  bool WritesDone();
  /// Blocks for the next message. False at the end of the response stream or on failure.
  bool Read(std::string* message);
  /// Read() into a protobuf message (what the typed API uses): a large message is parsed
  /// straight from the buffers the socket was read into. False at the end of the response
  /// stream, on failure, or if the message does not parse (then `*parse_error` holds the first
  /// such error). `scratch` is a buffer kept across reads.
  bool ReadMessage(google::protobuf::MessageLite* message, std::string* scratch,
                   Status* parse_error);
  /// Blocks until the server's initial metadata (or the end of the call); then the context's
  /// GetServerInitialMetadata() is valid. False if the call ended without them.
  bool WaitForInitialMetadata();
  /// Blocks until the call ends and returns its status (and fills the trailing metadata).
  /// Unread messages are discarded.
  Status Finish();

 private:
  bool ReadInto(std::string* message, std::vector<transport::PayloadPiece>* pieces);

  ClientContext& context_;
  std::shared_ptr<internal::ClientCallState> state_;
};

}  // namespace h2rpc
