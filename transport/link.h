// Link: the byte path of one connection — a plain socket, or a TlsSession over that same
// socket. The I/O thread is its only user. A link does not own the socket.
//
// The plain path is a direct read / writev; TLS goes through the TlsSession interface, so this
// file names no OpenSSL symbol (see tls_context.h).
#pragma once

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

class Link {
 public:
  using HandshakeResult = TlsSession::HandshakeResult;

  Link() = default;
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  /// A plain socket.
  void UsePlain(int fd) { fd_ = fd; }
  /// TLS over `fd` (TlsContext::NewSession says what the names are for).
  Status UseTls(int fd, const std::shared_ptr<const TlsContext>& context,
                const std::string& verify_host, const std::string& session_key = {});

  bool tls() const { return tls_ != nullptr; }

  /// TLS only: advances the handshake (TlsSession::Handshake).
  HandshakeResult Handshake() { return tls_->Handshake(); }

  /// read()'s contract: > 0 bytes, 0 at EOF (also a TLS close_notify), -1 with errno (EAGAIN:
  /// nothing now). A TLS failure is -1 with errno EPROTO and error() set.
  ssize_t Read(uint8_t* buf, size_t len);
  /// Writes as much of `output` as the socket takes: OutputBuffer::Flush's contract, with a TLS
  /// failure reported as -1, errno EPROTO and error() set.
  ssize_t Flush(OutputBuffer& output) { return tls_ ? tls_->Flush(output) : output.FlushTo(fd_); }

  /// Decrypted bytes held already: epoll will not report them, read them now.
  bool HasBufferedInput() const { return tls_ && tls_->HasBufferedInput(); }
  /// TLS needs the socket writable before the last Read() can progress.
  bool read_wants_write() const { return tls_ && tls_->read_wants_write(); }

  /// The last TLS failure, or strerror(err) on a plain socket.
  std::string ErrorText(int err) const;
  const std::string& error() const;

  /// After the handshake: the peer's certificate, verified or not (see PeerIdentity).
  PeerIdentity Peer() const { return tls_ ? tls_->Peer() : PeerIdentity(); }

  /// TLS only (a plain socket has nothing to say): TlsSession::SendCloseNotify.
  void SendCloseNotify() {
    if (tls_) tls_->SendCloseNotify();
  }

 private:
  int fd_ = -1;
  std::unique_ptr<TlsSession> tls_;
};

}  // namespace h2rpc::transport
