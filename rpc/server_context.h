// ServerContext: what a handler knows about its call and may set on the response.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "codec/compression.h"
#include "rpc/credentials.h"
#include "rpc/metadata.h"

namespace h2rpc {

namespace internal {
class ServerCallState;
}

/// One per call, owned by the library, valid for the duration of the handler.
class ServerContext {
 public:
  explicit ServerContext(std::shared_ptr<internal::ServerCallState> call);
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  /// The client's deadline (from grpc-timeout); system_clock::time_point::max() if none.
  std::chrono::system_clock::time_point deadline() const;
  /// Custom metadata the client sent (-bin values decoded).
  const Metadata& client_metadata() const;
  /// True once the client cancelled, the deadline passed, or the connection died. Handlers of
  /// long calls poll it (or notice Read/Write returning false).
  bool IsCancelled() const;
  /// Runs `callback` once when the call is cancelled (client cancel, deadline, lost connection,
  /// server shutdown), so that a handler blocked on something of its own (a condition
  /// variable, a queue) can wake up. It runs on an I/O thread: keep it short and never block
  /// in it (notify and return; a mutex it takes must never be held across a Read or Write,
  /// which may wait for that same I/O thread). Runs at once, on this thread, if the call is
  /// already cancelled. A later call replaces the callback; pass {} to clear it before the objects
  /// it refers to go away (once OnCancel({}) returns, the old callback is not running and will not
  /// run). The callback must not call OnCancel itself.
  void OnCancel(std::function<void()> callback);

  /// Added before the first message or status is sent; ignored afterwards.
  void AddInitialMetadata(const std::string& key, const std::string& value);
  /// Sent with the status.
  void AddTrailingMetadata(const std::string& key, const std::string& value);

  /// Compression of this call's response messages (needs the client to accept it).
  void set_compression_algorithm(codec::Compression c);

  /// Whether the request message returned last (by Read(), or the request of a unary handler)
  /// arrived with gRPC's per-message compressed flag set. False before any message.
  bool last_message_compressed() const {
    return last_message_compressed_.load(std::memory_order_acquire);
  }

  /// "ipv4:127.0.0.1:54321" / "ipv6:[::1]:54321".
  std::string peer() const;
  /// The client's TLS identity (certificate subject and SANs, whether it was verified, the TLS
  /// version); all empty / false on a plaintext connection.
  const PeerIdentity& peer_identity() const;
  /// "/pkg.Service/Method".
  const std::string& method() const;
  /// :authority of the request.
  const std::string& authority() const;

  internal::ServerCallState& internal_state() { return *call_; }
  void internal_set_last_message_compressed(bool compressed) {
    last_message_compressed_.store(compressed, std::memory_order_release);
  }

 private:
  std::shared_ptr<internal::ServerCallState> call_;
  std::atomic<bool> last_message_compressed_{false};
};

}  // namespace h2rpc
