// Internal: what a server call carries beyond the transport's ServerStream — the method it
// routed to, the handler-side response settings, lazily decoded client metadata.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "codec/compression.h"
#include "codec/headers.h"
#include "codec/status.h"
#include "rpc/metadata.h"
#include "rpc/service.h"
#include "transport/server_stream.h"

namespace h2rpc {
class ServerContext;
}

namespace h2rpc::internal {

class ServerImpl;

/// A registered method as the server looks it up.
struct MethodEntry {
  std::string path;
  RpcKind kind;
  GenericHandler handler;
};

class ServerCallState final : public transport::ServerStream {
 public:
  explicit ServerCallState(const ServerImpl* server) : server_(server) {}

  const ServerImpl& server() const { return *server_; }

  /// Set by the I/O thread when the request routes (before dispatch).
  const MethodEntry* method = nullptr;

  // ---- Handler thread ----

  /// The handler's context (for last_message_compressed); set while the handler runs.
  ServerContext* context = nullptr;
  /// Custom metadata the client sent, -bin values decoded. Built on first use, on the handler
  /// thread (keeps base64 work off the I/O thread).
  const Metadata& client_metadata();
  /// Picks the response compression once, at the first message/headers/status: what the
  /// handler asked for (or the server default) if the client accepts it, else identity.
  void FreezeCompression();
  codec::Compression response_compression() const { return response_compression_; }

  std::optional<codec::Compression> requested_compression;
  bool compression_frozen = false;
  codec::HeaderList trailing_metadata;  // wire form
  /// First invalid metadata the handler tried to add; the call ends INTERNAL with it. (A pointer:
  /// the call state stays small enough for malloc's per-thread cache, see server.cc.)
  std::unique_ptr<Status> metadata_error;

  /// Ends the call from the handler side with `status` (used for local failures: message too
  /// large to send, undecodable request). Read/Write return false afterwards.
  void FailCall(const Status& status) { Finish(status, trailing_metadata); }

 private:
  const ServerImpl* server_;
  codec::Compression response_compression_ = codec::Compression::kIdentity;
  std::once_flag metadata_once_;
  Metadata client_metadata_;
};

}  // namespace h2rpc::internal
