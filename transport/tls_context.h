// TlsContext: an OpenSSL SSL_CTX built once from credentials and shared by every connection
// that uses them (client channels, server listeners).
//
// Policy, the same for both sides: TLS 1.2 or 1.3 only, ALPN "h2" offered and required
// (RFC 9113 §3.2; gRPC rides on HTTP/2 only), no renegotiation.
//
// Resumption: a client context keeps the last resumable session each server issued, keyed by
// the name verified and the address dialled, so a reconnect (or another channel built from the
// same credentials) skips the certificate exchange and its signature checks. Servers issue
// tickets (OpenSSL's default) and accept resumption, also with client certificates.
#pragma once

#include <openssl/ssl.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "codec/status.h"

namespace h2rpc::transport {

enum class TlsVersion { kTls12, kTls13 };

/// How a server treats client certificates (gRPC's grpc_ssl_client_certificate_request_type).
enum class ClientCertificateRequest {
  kDontRequest,
  kRequestButDontVerify,
  kRequestAndVerify,
  kRequireButDontVerify,
  kRequireAndVerify,
};

struct TlsClientConfig {
  /// Trusted roots (PEM). Empty: the system's default trust store.
  std::string pem_root_certs;
  /// Our certificate for mutual TLS (PEM key and chain, leaf first); both or neither.
  std::string pem_private_key;
  std::string pem_cert_chain;
  TlsVersion min_version = TlsVersion::kTls12;
  TlsVersion max_version = TlsVersion::kTls13;
};

struct TlsServerConfig {
  /// Roots that client certificates are verified against (PEM); needed by the "verify" modes.
  std::string pem_root_certs;
  std::string pem_private_key;
  std::string pem_cert_chain;
  ClientCertificateRequest client_certificate_request = ClientCertificateRequest::kDontRequest;
  TlsVersion min_version = TlsVersion::kTls12;
  TlsVersion max_version = TlsVersion::kTls13;
};

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};

class TlsContext {
 public:
  /// INVALID_ARGUMENT with OpenSSL's reason when a PEM does not parse or key and cert differ.
  static StatusOr<std::shared_ptr<const TlsContext>> ForClient(const TlsClientConfig& config);
  static StatusOr<std::shared_ptr<const TlsContext>> ForServer(const TlsServerConfig& config);

  SSL_CTX* get() const { return ctx_.get(); }
  bool is_server() const { return is_server_; }
  /// Server: a client certificate counts as verified (vs. merely accepted).
  bool verifies_peer() const { return verifies_peer_; }

  /// Client: offers the session last issued for `key` on `ssl` (no-op if none), and files the
  /// sessions the server issues on this connection under `key`, which must outlive `ssl`.
  void UseSessionCache(SSL* ssl, const std::string* key) const;
  /// Client: sessions kept, for tests.
  size_t cached_sessions() const;

  ~TlsContext();

 private:
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
