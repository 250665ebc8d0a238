// ClientContext: per-call settings and results on the client, as in grpc++.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "codec/compression.h"
#include "codec/status.h"
#include "rpc/metadata.h"
#include "rpc/options.h"

namespace h2rpc {

namespace internal {
class ClientCallState;
}

/// One per call; not reusable and not shared between concurrent calls.
class ClientContext {
 public:
  ClientContext();
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  /// Absolute deadline; sent as grpc-timeout and enforced locally (DEADLINE_EXCEEDED even if
  /// the server never answers).
  void set_deadline(std::chrono::system_clock::time_point deadline);
  /// Convenience: deadline = now + timeout.
  void set_timeout(std::chrono::nanoseconds timeout);
  std::optional<std::chrono::system_clock::time_point> deadline() const { return deadline_; }

  /// Adds outgoing metadata. Keys are lower-case [0-9a-z_.-]; keys ending in "-bin" carry binary
  /// values. An invalid key or value fails the call with INTERNAL before anything is sent.
  void AddMetadata(const std::string& key, const std::string& value);
  const Metadata& client_metadata() const { return client_metadata_; }

  /// Wait-for-ready (gRPC's name): while the channel cannot connect, the call waits — until the
  /// channel connects or the deadline passes (DEADLINE_EXCEEDED) — instead of failing
  /// UNAVAILABLE at once. Set a deadline with it. A call already sent still fails if its
  /// connection breaks.
  void set_wait_for_ready(bool wait_for_ready) { wait_for_ready_ = wait_for_ready; }
  bool wait_for_ready() const { return wait_for_ready_; }

  /// Compression for this call's messages (overrides the channel default).
  void set_compression_algorithm(Compression c) { compression_ = c; }
  std::optional<Compression> compression_algorithm() const { return compression_; }

  /// Initial metadata from the server; valid once a message was read or the call finished.
  const Metadata& GetServerInitialMetadata() const { return server_initial_metadata_; }
  /// Trailing metadata; valid after Finish() (or a unary call) returns.
  const Metadata& GetServerTrailingMetadata() const { return server_trailing_metadata_; }

  /// Whether the response message returned last (by Read(), or the reply of a unary call)
  /// arrived with gRPC's per-message compressed flag set. False before any message.
  bool last_message_compressed() const {
    return last_message_compressed_.load(std::memory_order_acquire);
  }

  /// Cancels the call if it is running (RST_STREAM CANCEL); it then ends CANCELLED. Safe from
  /// any thread, any number of times, before or after the call starts.
  void TryCancel();

  /// "ipv4:127.0.0.1:50051" style description of the peer, once connected.
  std::string peer() const;

  // Used by the library only.
  void internal_bind(std::shared_ptr<internal::ClientCallState> call);
  Metadata& internal_initial_metadata() { return server_initial_metadata_; }
  Metadata& internal_trailing_metadata() { return server_trailing_metadata_; }
  bool internal_cancel_requested() const {
    // seq_cst: the channel's check after internal_bind and TryCancel's check of the bound call
    // form a Dekker handshake (store, then load the other's flag); acquire would not suffice.
    return cancel_requested_.load(std::memory_order_seq_cst);
  }
  const Status& internal_setup_error() const { return setup_error_; }
  void internal_set_last_message_compressed(bool compressed) {
    last_message_compressed_.store(compressed, std::memory_order_release);
  }

 private:
  std::optional<std::chrono::system_clock::time_point> deadline_;
  Metadata client_metadata_;
  std::optional<Compression> compression_;
  bool wait_for_ready_ = false;
  Metadata server_initial_metadata_;
  Metadata server_trailing_metadata_;
  std::atomic<bool> cancel_requested_{false};
  std::atomic<bool> last_message_compressed_{false};
  Status setup_error_;
  std::shared_ptr<internal::ClientCallState> call_;
  // The same call, readable from any thread (TryCancel, peer) without racing internal_bind.
  std::atomic<internal::ClientCallState*> bound_call_{nullptr};
};

}  // namespace h2rpc
