// Service: a set of method handlers registered with a ServerBuilder. Generated code derives
// from it; hand-written services may too.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "codec/status.h"
#include "rpc/serialization.h"
#include "rpc/server_call.h"
#include "rpc/server_context.h"

namespace h2rpc {

enum class RpcKind { kUnary, kClientStreaming, kServerStreaming, kBidiStreaming };

/// A handler over serialized messages. Runs on its own (pooled) thread. Its return value is
/// the call's status; an exception becomes UNKNOWN with the exception's text.
using GenericHandler = std::function<Status(ServerContext&, ServerCall&)>;

/// Typed reading side for client-streaming and bidi handlers.
template <class Request>
class ServerReader {
 public:
  explicit ServerReader(ServerCall& call) : call_(call) {}
  /// False when the client half-closed, the call ended, or a message failed to parse (then the
  /// call ends INTERNAL).
  bool Read(Request* message) {
    std::string bytes;
    if (!call_.Read(&bytes)) return false;
    return internal::ParseIntoOrFail(bytes, message, &parse_error_);
  }
  const Status& parse_error() const { return parse_error_; }

 private:
  ServerCall& call_;
  Status parse_error_;
};

/// Typed writing side for server-streaming and bidi handlers.
template <class Response>
class ServerWriter {
 public:
  explicit ServerWriter(ServerCall& call) : call_(call) {}
  bool Write(const Response& message, const WriteOptions& options = {}) {
    std::string bytes;
    if (!internal::Serialize(message, &bytes).ok()) return false;
    return call_.Write(bytes, options);
  }
  bool SendInitialMetadata() { return call_.SendInitialMetadata(); }

 private:
  ServerCall& call_;
};

/// Both sides, for bidi handlers: one thread may Write while another Reads.
template <class Response, class Request>
class ServerReaderWriter {
 public:
  explicit ServerReaderWriter(ServerCall& call) : reader_(call), writer_(call) {}
  bool Read(Request* message) { return reader_.Read(message); }
  bool Write(const Response& message, const WriteOptions& options = {}) {
    return writer_.Write(message, options);
  }
  bool SendInitialMetadata() { return writer_.SendInitialMetadata(); }
  const Status& parse_error() const { return reader_.parse_error(); }

 private:
  ServerReader<Request> reader_;
  ServerWriter<Response> writer_;
};

/// One registered method.
struct MethodHandler {
  std::string path;  // "/pkg.Service/Method"
  RpcKind kind;
  GenericHandler handler;
};

class Service {
 public:
  virtual ~Service() = default;
  const std::vector<MethodHandler>& methods() const { return methods_; }

 protected:
  /// Registers a handler over serialized messages.
  void AddMethod(std::string path, RpcKind kind, GenericHandler handler) {
    methods_.push_back({std::move(path), kind, std::move(handler)});
  }

  /// Typed registrations (what generated code uses).
  template <class Request, class Response>
  void AddUnaryMethod(std::string path,
                      std::function<Status(ServerContext*, const Request*, Response*)> fn) {
    AddMethod(std::move(path), RpcKind::kUnary,
              [fn = std::move(fn)](ServerContext& ctx, ServerCall& call) -> Status {
                std::string bytes;
                if (!call.Read(&bytes)) {
                  return Status(StatusCode::kInternal,
                                "unary call ended without a request message");
                }
                Request request;
                if (Status s = internal::Parse(bytes, &request); !s.ok()) return s;
                Response response;
                Status status = fn(&ctx, &request, &response);
                if (!status.ok()) return status;
                std::string out;
                if (Status s = internal::Serialize(response, &out); !s.ok()) return s;
                if (!call.Write(out))
                  return Status(StatusCode::kCancelled, "call ended before the response was sent");
                return status;
              });
  }

  template <class Request, class Response>
  void AddServerStreamingMethod(
      std::string path,
      std::function<Status(ServerContext*, const Request*, ServerWriter<Response>*)> fn) {
    AddMethod(std::move(path), RpcKind::kServerStreaming,
              [fn = std::move(fn)](ServerContext& ctx, ServerCall& call) -> Status {
                std::string bytes;
                if (!call.Read(&bytes)) {
                  return Status(StatusCode::kInternal,
                                "server-streaming call ended without a request message");
                }
                Request request;
                if (Status s = internal::Parse(bytes, &request); !s.ok()) return s;
                ServerWriter<Response> writer(call);
                return fn(&ctx, &request, &writer);
              });
  }

  template <class Request, class Response>
  void AddClientStreamingMethod(
      std::string path,
      std::function<Status(ServerContext*, ServerReader<Request>*, Response*)> fn) {
    AddMethod(std::move(path), RpcKind::kClientStreaming,
              [fn = std::move(fn)](ServerContext& ctx, ServerCall& call) -> Status {
                ServerReader<Request> reader(call);
                Response response;
                Status status = fn(&ctx, &reader, &response);
                if (!reader.parse_error().ok()) return reader.parse_error();
                if (!status.ok()) return status;
                std::string out;
                if (Status s = internal::Serialize(response, &out); !s.ok()) return s;
                if (!call.Write(out))
                  return Status(StatusCode::kCancelled, "call ended before the response was sent");
                return status;
              });
  }

  template <class Request, class Response>
  void AddBidiStreamingMethod(
      std::string path,
      std::function<Status(ServerContext*, ServerReaderWriter<Response, Request>*)> fn) {
    AddMethod(std::move(path), RpcKind::kBidiStreaming,
              [fn = std::move(fn)](ServerContext& ctx, ServerCall& call) -> Status {
                ServerReaderWriter<Response, Request> stream(call);
                Status status = fn(&ctx, &stream);
                if (!stream.parse_error().ok()) return stream.parse_error();
                return status;
              });
  }

 private:
  std::vector<MethodHandler> methods_;
};

}  // namespace h2rpc
