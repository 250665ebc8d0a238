// Typed client calls over google::protobuf::MessageLite: what generated stubs return.
//
// The templates are thin typed faces over internal::ClientStreamCore, which is compiled once in
// the library: a generated .cc instantiates almost nothing, so stubs compile fast.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "codec/status.h"
#include "rpc/client_call.h"
#include "rpc/serialization.h"

namespace h2rpc {

// Only referred to here: a generated .cc compiles without their headers (and C++20's <chrono>).
class Channel;
class ClientContext;

/// Unary call over protobuf messages: serializes `request`, parses the reply into `response`.
Status BlockingUnaryCall(Channel& channel, std::string_view method, ClientContext& context,
                         const google::protobuf::MessageLite& request,
                         google::protobuf::MessageLite* response);

namespace internal {

/// The untyped body of every typed streaming call.
class ClientStreamCore {
 public:
  ClientStreamCore(Channel& channel, std::string_view method, ClientContext& context);
  ~ClientStreamCore();
  ClientStreamCore(const ClientStreamCore&) = delete;
  ClientStreamCore& operator=(const ClientStreamCore&) = delete;

  /// Server streaming: sends the one request and half-closes.
  void SendOnlyRequest(const google::protobuf::MessageLite& request);
  bool WaitForInitialMetadata();
  bool Write(const google::protobuf::MessageLite& message, const WriteOptions& options);
  bool WritesDone();
  bool Read(google::protobuf::MessageLite* message);
  /// The call's status; a local serialization error wins, then a local parse error if the call
  /// itself ended OK.
  Status Finish();
  /// Client streaming: reads the single response into `response`, then Finish().
  Status FinishWithResponse(google::protobuf::MessageLite* response);

 private:
  std::unique_ptr<ClientCall> call_;
  Status write_error_;
  Status read_error_;
  std::string read_buffer_;  // kept across reads: its capacity goes back to the transport
};

}  // namespace internal

/// Server streaming: the request is sent at creation; Read() until false, then Finish().
template <class Response>
class ClientReader {
 public:
  template <class Request>
  ClientReader(Channel& channel, std::string_view method, ClientContext& context,
               const Request& request)
      : core_(channel, method, context) {
    core_.SendOnlyRequest(request);
  }

  bool WaitForInitialMetadata() { return core_.WaitForInitialMetadata(); }
  bool Read(Response* message) { return core_.Read(message); }
  Status Finish() { return core_.Finish(); }

 private:
  internal::ClientStreamCore core_;
};

/// Client streaming: Write() any number of requests, WritesDone(), then Finish() fills the
/// response given at creation.
template <class Request>
class ClientWriter {
 public:
  template <class Response>
  ClientWriter(Channel& channel, std::string_view method, ClientContext& context,
               Response* response)
      : core_(channel, method, context), response_(response) {}

  bool WaitForInitialMetadata() { return core_.WaitForInitialMetadata(); }
  bool Write(const Request& message, const WriteOptions& options = {}) {
    return core_.Write(message, options);
  }
  bool WritesDone() { return core_.WritesDone(); }
  Status Finish() { return core_.FinishWithResponse(response_); }

 private:
  internal::ClientStreamCore core_;
  google::protobuf::MessageLite* response_;
};

/// Bidirectional streaming. One thread may Write while another Reads.
template <class Request, class Response>
class ClientReaderWriter {
 public:
  ClientReaderWriter(Channel& channel, std::string_view method, ClientContext& context)
      : core_(channel, method, context) {}

  bool WaitForInitialMetadata() { return core_.WaitForInitialMetadata(); }
  bool Write(const Request& message, const WriteOptions& options = {}) {
    return core_.Write(message, options);
  }
  bool WritesDone() { return core_.WritesDone(); }
  bool Read(Response* message) { return core_.Read(message); }
  Status Finish() { return core_.Finish(); }

 private:
  internal::ClientStreamCore core_;
};

}  // namespace h2rpc
