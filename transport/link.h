// Link: the byte path of one connection — a plain socket, or TLS over that same socket.
//
// TLS runs over the existing non-blocking socket through a socket BIO (recv / send with
// MSG_NOSIGNAL): OpenSSL reads and writes the socket itself, so there is no memory BIO and no
// copy beyond the encryption. The I/O thread stays
// the only user of the socket and of the SSL object. A link does not own the socket.
#pragma once

#include <openssl/ssl.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "codec/status.h"
#include "transport/output_buffer.h"
#include "transport/peer_identity.h"
#include "transport/tls_context.h"

namespace h2rpc::transport {

struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

class Link {
 public:
  enum class HandshakeResult { kDone, kWantRead, kWantWrite, kFailed };

  Link() = default;
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  /// A plain socket.
  void UsePlain(int fd) { fd_ = fd; }
  /// TLS over `fd`. Client (`context` not a server one): `verify_host` is the name (or IP
  /// address) the server's certificate must carry; also sent as SNI when it is a name.
  /// `session_key` names the server for session resumption (the address dialled); empty: no
  /// resumption.
  Status UseTls(int fd, const std::shared_ptr<const TlsContext>& context,
                const std::string& verify_host, const std::string& session_key = {});

  bool tls() const { return ssl_ != nullptr; }
  bool handshake_done() const { return handshake_done_; }

  /// Advances the handshake. kFailed: error() says why (OpenSSL's reason; for a bad
  /// certificate also the verification reason; a peer that did not select ALPN h2).
  HandshakeResult Handshake();

  /// read()'s contract: > 0 bytes, 0 at EOF (also a TLS close_notify), -1 with errno (EAGAIN:
  /// nothing now). A TLS failure is -1 with errno EPROTO and error() set.
  ssize_t Read(uint8_t* buf, size_t len);
  /// Writes as much of `output` as the socket takes: OutputBuffer::Flush's contract, with a TLS
  /// failure reported as -1, errno EPROTO and error() set.
  ssize_t Flush(OutputBuffer& output);

  /// Decrypted bytes OpenSSL holds already: epoll will not report them, read them now.
  bool HasBufferedInput() const { return ssl_ != nullptr && SSL_pending(ssl_.get()) > 0; }
  /// TLS needs the socket writable before the last Read() can progress.
  bool read_wants_write() const { return read_wants_write_; }

  /// The last TLS failure, or strerror(err) on a plain socket.
  std::string ErrorText(int err) const;
  const std::string& error() const { return error_; }

  /// After the handshake: the peer's certificate, verified or not (see PeerIdentity).
  PeerIdentity Peer() const;

 private:
  std::string FailureReason(int ssl_error, int ret);
  /// After a failed write: the reason in an alert the peer sent before it hung up, or "".
  std::string PendingAlert();

  int fd_ = -1;
  std::string session_key_;  // referenced by ssl_ (ex_data): declared first, destroyed last
  std::unique_ptr<SSL, SslDeleter> ssl_;
  std::shared_ptr<const TlsContext> context_;
  bool handshake_done_ = false;
  bool read_wants_write_ = false;
  std::string error_;
  // Small frames gathered into one record (a 9-byte DATA header must not cost a record).
  std::string coalesce_;
};

}  // namespace h2rpc::transport
