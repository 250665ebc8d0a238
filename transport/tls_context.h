// TlsContext: the TLS half of credentials, built once and shared by every connection that uses
// them (client channels, server listeners); TlsSession: TLS on one connection's socket.
//
// Both are interfaces and nothing outside the OpenSSL files (openssl_*.cc) names an OpenSSL
// symbol: the only way in is ForClient / ForServer, which only the Ssl*Credentials functions
// call. So a program that never builds TLS credentials neither links nor loads libssl and
// libcrypto (with a static libh2rpc and --as-needed, Meson's default): about 1.7 MiB less
// resident memory and a smaller binary for a plaintext service.
//
// Policy, the same for both sides: TLS 1.2 or 1.3 only, ALPN "h2" offered and required
// (RFC 9113 §3.2; gRPC rides on HTTP/2 only), no renegotiation.
//
// Resumption: a client context keeps the last resumable session each server issued, keyed by
// the name verified and the address dialled, so a reconnect (or another channel built from the
// same credentials) skips the certificate exchange and its signature checks. Servers issue
// tickets (OpenSSL's default) and accept resumption, also with client certificates.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "codec/status.h"
#include "transport/output_buffer.h"
#include "transport/peer_identity.h"

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

/// TLS over one non-blocking socket that the session reads and writes itself (recv / send with
/// MSG_NOSIGNAL: no copy beyond the encryption). Only the connection's I/O thread uses it. It
/// does not own the socket.
class TlsSession {
 public:
  enum class HandshakeResult { kDone, kWantRead, kWantWrite, kFailed };

  virtual ~TlsSession() = default;

  /// Advances the handshake. kFailed: error() says why (OpenSSL's reason; for a bad
  /// certificate also the verification reason; a peer that did not select ALPN h2).
  virtual HandshakeResult Handshake() = 0;
  /// read()'s contract: > 0 bytes, 0 at EOF (also a close_notify), -1 with errno (EAGAIN:
  /// nothing now; EPROTO: a TLS failure, error() says which).
  virtual ssize_t Read(uint8_t* buf, size_t len) = 0;
  /// OutputBuffer::Flush's contract, with a TLS failure reported as -1, errno EPROTO.
  virtual ssize_t Flush(OutputBuffer& output) = 0;
  /// Decrypted bytes held already: epoll will not report them, read them now.
  virtual bool HasBufferedInput() const = 0;
  /// The last Read() cannot progress until the socket is writable.
  virtual bool read_wants_write() const = 0;
  /// The last TLS failure ("" if none).
  virtual const std::string& error() const = 0;
  /// After the handshake: the peer's certificate, verified or not (see PeerIdentity).
  virtual PeerIdentity Peer() const = 0;
  /// Writes a close_notify alert, without waiting for the peer's: the connection ends in good
  /// order. Best effort (a full socket drops it); call with nothing else left to write.
  virtual void SendCloseNotify() = 0;
};

class TlsContext {
 public:
  /// INVALID_ARGUMENT with OpenSSL's reason when a PEM does not parse or key and cert differ.
  static StatusOr<std::shared_ptr<const TlsContext>> ForClient(const TlsClientConfig& config);
  static StatusOr<std::shared_ptr<const TlsContext>> ForServer(const TlsServerConfig& config);

  virtual ~TlsContext() = default;

  virtual bool is_server() const = 0;

  /// TLS on `fd`. A client checks that the server's certificate carries `verify_host` (a name,
  /// also sent as SNI, or an IP address). `session_key` names the server for resumption (the
  /// address dialled); empty: no resumption. Servers ignore both. UNAVAILABLE on failure.
  virtual Status NewSession(int fd, const std::string& verify_host, const std::string& session_key,
                            std::unique_ptr<TlsSession>* session) const = 0;
};

}  // namespace h2rpc::transport
