// Service: a set of method handlers registered with a ServerBuilder. Generated code derives
// from it; hand-written services may too.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "codec/status.h"
#include "rpc/serialization.h"
#include "rpc/server_call.h"

namespace h2rpc {

class ServerContext;  // only referred to here (see rpc/client_stream.h)
class Service;

enum class RpcKind { kUnary, kClientStreaming, kServerStreaming, kBidiStreaming };

/// A handler over serialized messages. Runs on its own (pooled) thread. Its return value is
/// the call's status; an exception becomes UNKNOWN with the exception's text.
using GenericHandler = std::function<Status(ServerContext&, ServerCall&)>;

namespace internal {

/// A borrowed `Status()` callable: the typed registrations pass their handler call through this
/// instead of a std::function, so each generated method instantiates one tiny thunk.
class StatusThunk {
 public:
  template <class F>
  explicit StatusThunk(F& f)
      : object_(&f), call_([](void* object) -> Status { return (*static_cast<F*>(object))(); }) {}
  Status operator()() const { return call_(object_); }

 private:
  void* object_;
  Status (*call_)(void*);
};

// The untyped bodies of the typed handlers, compiled once in the library.
/// `buffer`: the reader's own string, read into each time so that its previous (large) buffer
/// goes back to the deframer.
bool ReadMessage(ServerCall& call, google::protobuf::MessageLite* message, Status* parse_error,
                 std::string* buffer);
bool WriteMessage(ServerCall& call, const google::protobuf::MessageLite& message,
                  const WriteOptions& options);
/// Reads the one request, runs `invoke`, sends `response` if it returned OK.
Status ServeUnary(ServerCall& call, google::protobuf::MessageLite& request,
                  const google::protobuf::MessageLite& response, StatusThunk invoke);
/// Reads the one request, then runs `invoke` (which writes the responses).
Status ServeServerStreaming(ServerCall& call, google::protobuf::MessageLite& request,
                            StatusThunk invoke);
/// After a client-streaming handler returned `status`: sends `response` if all went well.
Status FinishClientStreaming(ServerCall& call, const Status& parse_error, Status status,
                             const google::protobuf::MessageLite& response);
/// After a bidi handler returned `status`: a request that failed to parse wins.
Status FinishBidiStreaming(const Status& parse_error, Status status);

/// A generated method's handler, a plain function pointer with its type erased for storage; the
/// runner it is registered with casts it back to its real type (Service::UnaryHandler<...> and
/// so on) before calling it.
using ErasedHandler = void (*)();
/// Runs one call of an erased handler: builds the typed messages, calls it, finishes the call.
using HandlerRunner = Status (*)(Service& service, ErasedHandler handler, ServerContext& context,
                                 ServerCall& call);

/// UNIMPLEMENTED, "<path> is not implemented by this server": what the handlers of the
/// generated base classes answer until a subclass overrides them.
Status Unimplemented(const char* path);

/// Does nothing. Generated service constructors pass their .proto file's descriptor table, so
/// that the linker keeps that file's .pb.cc object: a .proto holding only services has no
/// other symbol a program uses, and without it server reflection could not describe them.
void KeepLinked(const void* descriptor_table);

}  // namespace internal

/// Typed reading side for client-streaming and bidi handlers.
template <class Request>
class ServerReader {
 public:
  explicit ServerReader(ServerCall& call) : call_(call) {}
  /// False when the client half-closed, the call ended, or a message failed to parse (then the
  /// call ends INTERNAL).
  bool Read(Request* message) {
    return internal::ReadMessage(call_, message, &parse_error_, &buffer_);
  }
  const Status& parse_error() const { return parse_error_; }

 private:
  ServerCall& call_;
  Status parse_error_;
  std::string buffer_;
};

/// Typed writing side for server-streaming and bidi handlers.
template <class Response>
class ServerWriter {
 public:
  explicit ServerWriter(ServerCall& call) : call_(call) {}
  bool Write(const Response& message, const WriteOptions& options = {}) {
    return internal::WriteMessage(call_, message, options);
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
  // Out of line, so that generated services do not each instantiate the members' destruction.
  virtual ~Service();
  const std::vector<MethodHandler>& methods() const { return methods_; }

  /// Called by ServerBuilder::BuildAndStart, just before the server starts serving, with the
  /// names ("package.Service", sorted, each once) of every service that server serves. What
  /// server reflection lists; most services ignore it.
  virtual void OnServerStarting(const std::vector<std::string>& service_names) {
    (void)service_names;
  }

 protected:
  /// Registers a handler over serialized messages.
  void AddMethod(std::string path, RpcKind kind, GenericHandler handler);

  /// Typed handlers as plain functions of the service (what generated code registers: one
  /// captureless function per method, which costs the compiler far less than a callable in a
  /// std::function per method; the one std::function is made inside the library).
  template <class Request, class Response>
  using UnaryHandler = Status (*)(Service&, ServerContext*, const Request*, Response*);
  template <class Request, class Response>
  using ServerStreamingHandler = Status (*)(Service&, ServerContext*, const Request*,
                                            ServerWriter<Response>*);
  template <class Request, class Response>
  using ClientStreamingHandler = Status (*)(Service&, ServerContext*, ServerReader<Request>*,
                                            Response*);
  template <class Request, class Response>
  using BidiStreamingHandler = Status (*)(Service&, ServerContext*,
                                          ServerReaderWriter<Response, Request>*);

  template <class Request, class Response>
  void AddUnaryHandler(const char* path, UnaryHandler<Request, Response> handler) {
    AddErasedHandler(path, RpcKind::kUnary, &RunUnary<Request, Response>,
                     reinterpret_cast<internal::ErasedHandler>(handler));
  }
  template <class Request, class Response>
  void AddServerStreamingHandler(const char* path,
                                 ServerStreamingHandler<Request, Response> handler) {
    AddErasedHandler(path, RpcKind::kServerStreaming, &RunServerStreaming<Request, Response>,
                     reinterpret_cast<internal::ErasedHandler>(handler));
  }
  template <class Request, class Response>
  void AddClientStreamingHandler(const char* path,
                                 ClientStreamingHandler<Request, Response> handler) {
    AddErasedHandler(path, RpcKind::kClientStreaming, &RunClientStreaming<Request, Response>,
                     reinterpret_cast<internal::ErasedHandler>(handler));
  }
  template <class Request, class Response>
  void AddBidiStreamingHandler(const char* path, BidiStreamingHandler<Request, Response> handler) {
    AddErasedHandler(path, RpcKind::kBidiStreaming, &RunBidiStreaming<Request, Response>,
                     reinterpret_cast<internal::ErasedHandler>(handler));
  }

  /// Typed registrations (what generated code uses). `fn` is any callable with the handler's
  /// signature: Status(ServerContext*, const Request*, Response*) for unary, and so on.
  template <class Request, class Response, class Fn>
  void AddUnaryMethod(std::string path, Fn fn) {
    AddMethod(std::move(path), RpcKind::kUnary,
              [fn = std::move(fn)](ServerContext& ctx, ServerCall& call) {
                return ServeUnaryWith<Request, Response>(ctx, call, fn);
              });
  }

  template <class Request, class Response, class Fn>
  void AddServerStreamingMethod(std::string path, Fn fn) {
    AddMethod(std::move(path), RpcKind::kServerStreaming,
              [fn = std::move(fn)](ServerContext& ctx, ServerCall& call) {
                return ServeServerStreamingWith<Request, Response>(ctx, call, fn);
              });
  }

  template <class Request, class Response, class Fn>
  void AddClientStreamingMethod(std::string path, Fn fn) {
    AddMethod(std::move(path), RpcKind::kClientStreaming,
              [fn = std::move(fn)](ServerContext& ctx, ServerCall& call) {
                return ServeClientStreamingWith<Request, Response>(ctx, call, fn);
              });
  }

  template <class Request, class Response, class Fn>
  void AddBidiStreamingMethod(std::string path, Fn fn) {
    AddMethod(std::move(path), RpcKind::kBidiStreaming,
              [fn = std::move(fn)](ServerContext& ctx, ServerCall& call) {
                return ServeBidiStreamingWith<Request, Response>(ctx, call, fn);
              });
  }

 private:
  void AddErasedHandler(const char* path, RpcKind kind, internal::HandlerRunner runner,
                        internal::ErasedHandler handler);

  // One body per call kind, for both ways of registering: `fn` is the user's callable or a
  // runner's call of a generated handler.
  template <class Request, class Response, class Fn>
  static Status ServeUnaryWith(ServerContext& ctx, ServerCall& call, const Fn& fn) {
    Request request;
    Response response;
    auto invoke = [&] { return Status(fn(&ctx, &request, &response)); };
    return internal::ServeUnary(call, request, response, internal::StatusThunk(invoke));
  }
  template <class Request, class Response, class Fn>
  static Status ServeServerStreamingWith(ServerContext& ctx, ServerCall& call, const Fn& fn) {
    Request request;
    ServerWriter<Response> writer(call);
    auto invoke = [&] { return Status(fn(&ctx, &request, &writer)); };
    return internal::ServeServerStreaming(call, request, internal::StatusThunk(invoke));
  }
  template <class Request, class Response, class Fn>
  static Status ServeClientStreamingWith(ServerContext& ctx, ServerCall& call, const Fn& fn) {
    ServerReader<Request> reader(call);
    Response response;
    Status status = fn(&ctx, &reader, &response);
    return internal::FinishClientStreaming(call, reader.parse_error(), std::move(status), response);
  }
  template <class Request, class Response, class Fn>
  static Status ServeBidiStreamingWith(ServerContext& ctx, ServerCall& call, const Fn& fn) {
    ServerReaderWriter<Response, Request> stream(call);
    Status status = fn(&ctx, &stream);
    return internal::FinishBidiStreaming(stream.parse_error(), std::move(status));
  }

  // The runners of generated handlers: one per call kind and message-type pair, shared by every
  // method with them.
  template <class Request, class Response>
  static Status RunUnary(Service& service, internal::ErasedHandler handler, ServerContext& ctx,
                         ServerCall& call) {
    const auto typed = reinterpret_cast<UnaryHandler<Request, Response>>(handler);
    return ServeUnaryWith<Request, Response>(ctx, call,
                                             [&](auto... args) { return typed(service, args...); });
  }
  template <class Request, class Response>
  static Status RunServerStreaming(Service& service, internal::ErasedHandler handler,
                                   ServerContext& ctx, ServerCall& call) {
    const auto typed = reinterpret_cast<ServerStreamingHandler<Request, Response>>(handler);
    return ServeServerStreamingWith<Request, Response>(
        ctx, call, [&](auto... args) { return typed(service, args...); });
  }
  template <class Request, class Response>
  static Status RunClientStreaming(Service& service, internal::ErasedHandler handler,
                                   ServerContext& ctx, ServerCall& call) {
    const auto typed = reinterpret_cast<ClientStreamingHandler<Request, Response>>(handler);
    return ServeClientStreamingWith<Request, Response>(
        ctx, call, [&](auto... args) { return typed(service, args...); });
  }
  template <class Request, class Response>
  static Status RunBidiStreaming(Service& service, internal::ErasedHandler handler,
                                 ServerContext& ctx, ServerCall& call) {
    const auto typed = reinterpret_cast<BidiStreamingHandler<Request, Response>>(handler);
    return ServeBidiStreamingWith<Request, Response>(
        ctx, call, [&](auto... args) { return typed(service, args...); });
  }

  std::vector<MethodHandler> methods_;
};

}  // namespace h2rpc
