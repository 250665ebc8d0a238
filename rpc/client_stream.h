// Typed client calls over google::protobuf::MessageLite: what generated stubs return.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "codec/status.h"
#include "rpc/channel.h"
#include "rpc/client_call.h"
#include "rpc/client_context.h"
#include "rpc/serialization.h"

namespace h2rpc {

/// Typed unary call: serializes `request`, parses the reply into `response`.
template <class Request, class Response>
Status BlockingUnaryCall(Channel& channel, std::string_view method, ClientContext& context,
                         const Request& request, Response* response) {
  std::string request_bytes;
  if (Status s = internal::Serialize(request, &request_bytes); !s.ok()) return s;
  std::string response_bytes;
  Status status = channel.UnaryCall(context, method, request_bytes, &response_bytes);
  if (!status.ok()) return status;
  return internal::Parse(response_bytes, response);
}

/// Server streaming: the request is sent at creation; Read() until false, then Finish().
template <class Response>
class ClientReader {
 public:
  template <class Request>
  ClientReader(Channel& channel, std::string_view method, ClientContext& context,
               const Request& request)
      : call_(channel.StartCall(context, method)) {
    std::string bytes;
    if (Status s = internal::Serialize(request, &bytes); !s.ok()) {
      error_ = std::move(s);
      return;
    }
    if (call_->Write(bytes)) call_->WritesDone();
  }
  bool WaitForInitialMetadata() { return call_->WaitForInitialMetadata(); }
  bool Read(Response* message) {
    std::string bytes;
    if (!call_->Read(&bytes)) return false;
    return internal::ParseIntoOrFail(bytes, message, &error_);
  }
  Status Finish() { return internal::Merge(call_->Finish(), std::move(error_)); }

 private:
  std::unique_ptr<ClientCall> call_;
  Status error_;
};

/// Client streaming: Write() any number of requests, WritesDone(), then Finish() fills the
/// response given at creation.
template <class Request>
class ClientWriter {
 public:
  template <class Response>
  ClientWriter(Channel& channel, std::string_view method, ClientContext& context,
               Response* response)
      : call_(channel.StartCall(context, method)),
        parse_response_(
            [response](const std::string& bytes) { return internal::Parse(bytes, response); }) {}
  bool WaitForInitialMetadata() { return call_->WaitForInitialMetadata(); }
  bool Write(const Request& message, const WriteOptions& options = {}) {
    std::string bytes;
    if (Status s = internal::Serialize(message, &bytes); !s.ok()) {
      error_ = std::move(s);
      return false;
    }
    return call_->Write(bytes, options);
  }
  bool WritesDone() { return call_->WritesDone(); }
  Status Finish() {
    std::string bytes;
    bool got = call_->Read(&bytes);
    Status status = call_->Finish();
    if (!error_.ok()) return error_;
    if (!status.ok()) return status;
    if (!got) return Status(StatusCode::kInternal, "server returned OK without a response message");
    return parse_response_(bytes);
  }

 private:
  std::unique_ptr<ClientCall> call_;
  std::function<Status(const std::string&)> parse_response_;
  Status error_;
};

/// Bidirectional streaming. One thread may Write while another Reads.
template <class Request, class Response>
class ClientReaderWriter {
 public:
  ClientReaderWriter(Channel& channel, std::string_view method, ClientContext& context)
      : call_(channel.StartCall(context, method)) {}
  bool WaitForInitialMetadata() { return call_->WaitForInitialMetadata(); }
  bool Write(const Request& message, const WriteOptions& options = {}) {
    std::string bytes;
    if (Status s = internal::Serialize(message, &bytes); !s.ok()) {
      write_error_ = std::move(s);
      return false;
    }
    return call_->Write(bytes, options);
  }
  bool WritesDone() { return call_->WritesDone(); }
  bool Read(Response* message) {
    std::string bytes;
    if (!call_->Read(&bytes)) return false;
    return internal::ParseIntoOrFail(bytes, message, &read_error_);
  }
  Status Finish() {
    Status status = call_->Finish();
    if (!write_error_.ok()) return write_error_;
    return internal::Merge(std::move(status), std::move(read_error_));
  }

 private:
  std::unique_ptr<ClientCall> call_;
  Status write_error_;
  Status read_error_;
};

}  // namespace h2rpc
