// Credentials, shaped like grpc++'s: how a Channel or a listening port secures its connections.
//
// TLS (1.2 or 1.3, OpenSSL) always negotiates ALPN "h2"; a peer that does not is refused.
// Credentials build their OpenSSL context once; every channel and port using them shares it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "codec/status.h"
#include "transport/peer_identity.h"

namespace h2rpc {

namespace transport {
class TlsContext;
}

/// Who the client is, from its TLS certificate (ServerContext::peer_identity()).
using PeerIdentity = transport::PeerIdentity;

enum class TlsVersion { kTls12, kTls13 };

/// gRPC's SslCredentialsOptions.
struct SslCredentialsOptions {
  /// Trusted roots (PEM). Empty: the system's trust store (/etc/ssl/certs).
  std::string pem_root_certs;
  /// Client certificate for mutual TLS: key and chain (leaf first), both or neither.
  std::string pem_private_key;
  std::string pem_cert_chain;
  /// Range of TLS versions offered.
  TlsVersion min_tls_version = TlsVersion::kTls12;
  TlsVersion max_tls_version = TlsVersion::kTls13;
};

class ChannelCredentials {
 public:
  /// Not OK when the PEM material did not load (INVALID_ARGUMENT with OpenSSL's reason); every
  /// call on a channel made with such credentials then fails with this status.
  const Status& status() const { return status_; }
  bool is_secure() const { return secure_; }
  const std::shared_ptr<const transport::TlsContext>& internal_tls() const { return tls_; }

 private:
  friend std::shared_ptr<ChannelCredentials> InsecureChannelCredentials();
  friend std::shared_ptr<ChannelCredentials> SslCredentials(const SslCredentialsOptions&);
  ChannelCredentials() = default;
  bool secure_ = false;
  Status status_;
  std::shared_ptr<const transport::TlsContext> tls_;
};

/// Plaintext HTTP/2 (h2c).
std::shared_ptr<ChannelCredentials> InsecureChannelCredentials();
/// TLS; the server's certificate must chain to the roots and name the target's host (or
/// ChannelOptions::ssl_target_name_override).
std::shared_ptr<ChannelCredentials> SslCredentials(const SslCredentialsOptions& options);

/// gRPC's grpc_ssl_client_certificate_request_type.
enum class SslClientCertificateRequest {
  kDontRequest,
  kRequestButDontVerify,
  kRequestAndVerify,
  kRequireButDontVerify,
  kRequireAndVerify,
};

/// gRPC's SslServerCredentialsOptions.
struct SslServerCredentialsOptions {
  struct PemKeyCertPair {
    std::string private_key;
    std::string cert_chain;
  };
  /// Roots that client certificates are checked against (needed by the "verify" modes).
  std::string pem_root_certs;
  /// The server's key and certificate chain. Exactly one pair is supported (no SNI selection).
  std::vector<PemKeyCertPair> pem_key_cert_pairs;
  SslClientCertificateRequest client_certificate_request =
      SslClientCertificateRequest::kDontRequest;
  TlsVersion min_tls_version = TlsVersion::kTls12;
  TlsVersion max_tls_version = TlsVersion::kTls13;
};

class ServerCredentials {
 public:
  /// Not OK when the PEM material did not load; BuildAndStart then fails with it.
  const Status& status() const { return status_; }
  bool is_secure() const { return secure_; }
  const std::shared_ptr<const transport::TlsContext>& internal_tls() const { return tls_; }

 private:
  friend std::shared_ptr<ServerCredentials> InsecureServerCredentials();
  friend std::shared_ptr<ServerCredentials> SslServerCredentials(
      const SslServerCredentialsOptions&);
  ServerCredentials() = default;
  bool secure_ = false;
  Status status_;
  std::shared_ptr<const transport::TlsContext> tls_;
};

std::shared_ptr<ServerCredentials> InsecureServerCredentials();
std::shared_ptr<ServerCredentials> SslServerCredentials(const SslServerCredentialsOptions& options);

/// Reads a whole (PEM) file into `contents`. NOT_FOUND / INVALID_ARGUMENT with the reason.
Status ReadPemFile(const std::string& path, std::string* contents);

}  // namespace h2rpc
