// OpenSslContext: TlsContext on an OpenSSL SSL_CTX. Only the openssl_*.cc files include this
// (see tls_context.h for why nothing else may name OpenSSL).
#pragma once

#include <openssl/ssl.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "transport/tls_context.h"

namespace h2rpc::transport {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};

class OpenSslContext final : public TlsContext,
                             public std::enable_shared_from_this<OpenSslContext> {
 public:
  OpenSslContext() = default;
  ~OpenSslContext() override;

  bool is_server() const override { return is_server_; }
  Status NewSession(int fd, const std::string& verify_host, const std::string& session_key,
                    std::unique_ptr<TlsSession>* session) const override;

  SSL_CTX* get() const { return ctx_.get(); }
  /// Server: a client certificate counts as verified (vs. merely accepted).
  bool verifies_peer() const { return verifies_peer_; }

  /// Client: offers the session last issued for `key` on `ssl` (no-op if none), and files the
  /// sessions the server issues on this connection under `key`, which must outlive `ssl`.
  void UseSessionCache(SSL* ssl, const std::string* key) const;

 private:
  friend StatusOr<std::shared_ptr<const TlsContext>> TlsContext::ForClient(
      const TlsClientConfig& config);
  friend StatusOr<std::shared_ptr<const TlsContext>> TlsContext::ForServer(
      const TlsServerConfig& config);
  static int OnNewSession(SSL* ssl, SSL_SESSION* issued);

  std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx_;
  // Client session cache, bounded (one entry per server a process talks to, typically few).
  static constexpr size_t kMaxCachedSessions = 256;
  mutable std::mutex sessions_mu_;
  mutable std::map<std::string, SSL_SESSION*> sessions_;  // each holds one reference
  bool is_server_ = false;
  bool verifies_peer_ = false;
};

/// The reason of the most recent OpenSSL error on this thread ("certificate verify failed"),
/// or `fallback` if the error queue is empty. Clears the queue.
std::string TakeOpenSslError(const char* fallback);

}  // namespace h2rpc::transport
