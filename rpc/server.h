// Server and ServerBuilder, shaped like grpc++'s.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "codec/status.h"
#include "rpc/credentials.h"
#include "rpc/options.h"
#include "rpc/service.h"

namespace h2rpc {

namespace internal {
class ServerImpl;
}

/// A running server. Every call's handler runs on its own pooled thread.
class Server {
 public:
  ~Server();  // Shutdown() with an immediate deadline if still running, then Wait().
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Stops accepting connections and calls, sends GOAWAY, lets running calls finish until
  /// `deadline`, then cancels the rest. Every call ends with a status. Returns when done.
  void Shutdown(std::chrono::system_clock::time_point deadline);
  /// Shutdown with a deadline of now (cancels running calls at once).
  void Shutdown();
  /// Blocks until Shutdown() completes (from another thread).
  void Wait();

  /// Ports actually bound, in AddListeningPort order (useful with port 0); 0 for a unix socket.
  const std::vector<int>& ports() const;

 private:
  friend class ServerBuilder;
  explicit Server(std::unique_ptr<internal::ServerImpl> impl);
  std::unique_ptr<internal::ServerImpl> impl_;
};

class ServerBuilder {
 public:
  ServerBuilder();
  ~ServerBuilder();

  /// "host:port", "[::1]:port", "0.0.0.0:port", ":port" (all interfaces). Port 0 picks a free
  /// port; `selected_port` receives it after BuildAndStart (0 if binding failed, and for unix
  /// sockets).
  /// Unix sockets: "unix:path" (relative or absolute), "unix:///abs/path", or
  /// "unix-abstract:name" (Linux abstract namespace). A socket file left at the path by a
  /// server that died (nobody listening) is replaced; a live server there, or a file that is
  /// not a socket, fails the bind. The socket file is removed when the server shuts down.
  ServerBuilder& AddListeningPort(const std::string& address, int* selected_port = nullptr);
  /// The same with credentials: InsecureServerCredentials() or SslServerCredentials(...).
  ServerBuilder& AddListeningPort(const std::string& address,
                                  std::shared_ptr<ServerCredentials> credentials,
                                  int* selected_port = nullptr);
  /// The service must outlive the server.
  ServerBuilder& RegisterService(Service* service);
  /// A handler for one full method name, without a Service class.
  ServerBuilder& RegisterMethod(const std::string& path, RpcKind kind, GenericHandler handler);
  /// Handles any method no service claims (instead of UNIMPLEMENTED); treated as bidi.
  ServerBuilder& SetFallbackHandler(GenericHandler handler);

  ServerBuilder& SetMaxReceiveMessageSize(int bytes);
  ServerBuilder& SetMaxSendMessageSize(int bytes);
  ServerBuilder& SetMaxConcurrentCalls(int calls);
  ServerBuilder& SetDefaultCompressionAlgorithm(Compression c);
  ServerBuilder& SetOptions(const ServerOptions& options);
  ServerOptions& options() { return options_; }

  /// Binds every address and starts serving. Null (with `error()` set) if any address fails
  /// to bind or two handlers claim the same method.
  std::unique_ptr<Server> BuildAndStart();
  const Status& error() const { return error_; }

 private:
  struct Port {
    std::string address;
    int* selected;
    std::shared_ptr<ServerCredentials> credentials;  // null: plaintext
  };
  std::vector<Port> ports_;
  std::vector<MethodHandler> methods_;
  std::vector<Service*> services_;
  GenericHandler fallback_;
  ServerOptions options_;
  Status error_;
};

}  // namespace h2rpc
