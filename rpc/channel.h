// Channel: a client's connection to one target, shared by any number of threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "codec/status.h"
#include "rpc/client_call.h"
#include "rpc/client_context.h"
#include "rpc/credentials.h"
#include "rpc/options.h"

namespace h2rpc {

namespace internal {
class ClientTransport;
}

/// gRPC's channel connectivity states.
enum class ConnectivityState {
  kIdle,              // no connection, none being made (before the first call, or after one closed)
  kConnecting,        // connecting (TCP, TLS, HTTP/2 settings)
  kReady,             // connected: calls go out at once
  kTransientFailure,  // the last attempt failed; the next waits for the backoff
  kShutdown,          // the channel is being destroyed
};

/// A virtual connection to `target`. Thread-safe: every method may be called from any number of
/// threads at once, and calls from all of them are multiplexed as streams over one HTTP/2
/// connection owned by one I/O thread. Starting a call takes no lock. The connection is made on
/// the first call and made again (with gRPC's exponential backoff) after it fails.
class Channel {
 public:
  /// Targets: "host:port", "[v6addr]:port", "localhost:port", "dns:host:port", and unix
  /// sockets: "unix:path" (relative or absolute), "unix:///abs/path", "unix-abstract:name"
  /// (Linux abstract namespace; :authority "localhost"). A unix path too long for sockaddr_un
  /// fails every call INVALID_ARGUMENT.
  /// Plaintext (h2c) unless TLS credentials are given.
  static std::shared_ptr<Channel> Create(const std::string& target,
                                         const ChannelOptions& options = {});
  /// With `credentials` (InsecureChannelCredentials() or SslCredentials(...)).
  static std::shared_ptr<Channel> Create(const std::string& target,
                                         const std::shared_ptr<ChannelCredentials>& credentials,
                                         const ChannelOptions& options = {});
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  /// Generic unary call by full method name ("/pkg.Service/Method") with serialized bytes.
  Status UnaryCall(ClientContext& context, std::string_view method, std::string_view request,
                   std::string* response);
  /// The same with a protobuf request, serialized straight into the frame that is sent (what
  /// generated stubs use). `response` gets the serialized reply.
  Status UnaryCall(ClientContext& context, std::string_view method,
                   const google::protobuf::MessageLite& request, std::string* response);

  /// Starts a generic streaming call; the returned call is usable at once (its Write/Read block
  /// as needed). Never null: a call that cannot start reports its Status from Finish().
  std::unique_ptr<ClientCall> StartCall(ClientContext& context, std::string_view method);

  /// The connection's state. With `try_to_connect`, an idle or failed channel starts connecting
  /// even if no call waits, and keeps trying (after each backoff) until it is connected.
  ConnectivityState GetState(bool try_to_connect);
  /// Blocks until the state is not `last` (true) or `deadline` passes (false).
  bool WaitForStateChange(ConnectivityState last, std::chrono::system_clock::time_point deadline);
  /// Connects (retrying with backoff) and waits until the channel is ready: true, or false if
  /// `deadline` passed first.
  bool WaitForConnected(std::chrono::system_clock::time_point deadline);

  const std::string& target() const { return target_; }
  const ChannelOptions& options() const { return options_; }

  /// Internal (BlockingUnaryCall, what generated stubs call): the reply is parsed into
  /// `response` where it arrived; a large one straight from the transport's read buffers.
  Status internal_unary_call(ClientContext& context, std::string_view method,
                             const google::protobuf::MessageLite& request,
                             google::protobuf::MessageLite* response);

 private:
  /// Frames the request into the call state (plain bytes or a protobuf message).
  using FrameRequestFn = Status (*)(const void* request, uint32_t max_send_message_size,
                                    internal::ClientCallState& call);
  /// The reply goes to `response` as bytes, or with `typed_response` is parsed into that.
  Status RunUnary(ClientContext& context, std::string_view method, FrameRequestFn frame,
                  const void* request, std::string* response,
                  google::protobuf::MessageLite* typed_response);
  /// A reply's buffer, once done with, goes back for the next large reply to be read into
  /// (small ones are simply freed).
  void RecycleBuffer(std::string&& buffer);
  Channel(std::string target, ChannelOptions options,
          const std::shared_ptr<ChannelCredentials>& credentials);
  std::string target_;
  ChannelOptions options_;
  Status config_error_;  // bad credentials or an impossible unix target: every call fails with this
  std::unique_ptr<internal::ClientTransport> transport_;
};

/// grpc++-style spelling of Channel::Create.
inline std::shared_ptr<Channel> CreateChannel(const std::string& target,
                                              const ChannelOptions& options = {}) {
  return Channel::Create(target, options);
}
inline std::shared_ptr<Channel> CreateChannel(const std::string& target,
                                              const std::shared_ptr<ChannelCredentials>& creds,
                                              const ChannelOptions& options = {}) {
  return Channel::Create(target, creds, options);
}

}  // namespace h2rpc
