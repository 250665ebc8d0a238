// OpenSslSession: TlsSession over an OpenSSL SSL object, and OpenSslContext::NewSession.
//
// TLS runs over the existing non-blocking socket through a socket BIO (recv / send with
// MSG_NOSIGNAL): OpenSSL reads and writes the socket itself, so there is no memory BIO and no
// copy beyond the encryption.
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "transport/openssl_context.h"

namespace h2rpc::transport {

namespace {

/// One TLS record's payload: segments smaller than this are gathered until a record is full;
/// a segment at least this large is handed to SSL_write in place (no copy).
constexpr size_t kRecordPayload = 16 * 1024;

bool IsIpAddress(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// A socket BIO of our own: OpenSSL's writes with write(2), and a peer that hung up would kill
// the process with SIGPIPE. Ours sends with MSG_NOSIGNAL, as the plaintext path does.
int FdOf(BIO* bio) { return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio))); }

int SocketBioWrite(BIO* bio, const char* data, int length) {
  BIO_clear_retry_flags(bio);
  const ssize_t n = ::send(FdOf(bio), data, static_cast<size_t>(length), MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_write(bio);
  }
  return static_cast<int>(n);
}

int SocketBioRead(BIO* bio, char* buf, int length) {
  BIO_clear_retry_flags(bio);
  const ssize_t n = ::recv(FdOf(bio), buf, static_cast<size_t>(length), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_read(bio);
  }
  return static_cast<int>(n);
}

long SocketBioCtrl(BIO*, int command, long, void*) {
  return command == BIO_CTRL_FLUSH ? 1 : 0;  // nothing is buffered in the BIO
}

int SocketBioCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* SocketBioMethod() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "h2rpc socket");
    if (m != nullptr) {
      BIO_meth_set_write(m, SocketBioWrite);
      BIO_meth_set_read(m, SocketBioRead);
      BIO_meth_set_ctrl(m, SocketBioCtrl);
      BIO_meth_set_create(m, SocketBioCreate);
    }
    return m;
  }();
  return method;
}

std::string Ia5(const ASN1_IA5STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

}  // namespace

/// TlsSession on an OpenSSL SSL object whose BIO is the socket itself.
class OpenSslSession final : public TlsSession {
 public:
  explicit OpenSslSession(std::shared_ptr<const OpenSslContext> context)
      : context_(std::move(context)) {}

  Status Start(int fd, const std::string& verify_host, const std::string& session_key);

  HandshakeResult Handshake() override;
  ssize_t Read(uint8_t* buf, size_t len) override;
  ssize_t Flush(OutputBuffer& output) override;
  bool HasBufferedInput() const override { return SSL_pending(ssl_.get()) > 0; }
  bool read_wants_write() const override { return read_wants_write_; }
  const std::string& error() const override { return error_; }
  PeerIdentity Peer() const override;
  void SendCloseNotify() override;

 private:
  std::string FailureReason(int ssl_error, int ret);
  /// After a failed write: the reason in an alert the peer sent before it hung up, or "".
  std::string PendingAlert();

  std::shared_ptr<const OpenSslContext> context_;  // outlives ssl_ (its session cache)
  std::string session_key_;  // referenced by ssl_ (ex_data): declared first, destroyed last
  std::unique_ptr<SSL, SslDeleter> ssl_;
  bool read_wants_write_ = false;
  std::string error_;
  // Small frames gathered into one record (a 9-byte DATA header must not cost a record).
  std::string coalesce_;
};

Status OpenSslSession::Start(int fd, const std::string& verify_host,
                             const std::string& session_key) {
  ERR_clear_error();
  ssl_.reset(SSL_new(context_->get()));
  BIO* bio = SocketBioMethod() != nullptr ? BIO_new(SocketBioMethod()) : nullptr;
  if (!ssl_ || bio == nullptr) {
    BIO_free(bio);
    return Status(StatusCode::kUnavailable,
                  "cannot start TLS: " + TakeOpenSslError("out of memory"));
  }
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(fd)));
  SSL_set_bio(ssl_.get(), bio, bio);  // the SSL owns the BIO (one reference for both ends)
  if (context_->is_server()) {
    SSL_set_accept_state(ssl_.get());
    return Status();
  }
  SSL_set_connect_state(ssl_.get());
  // Strip IPv6 brackets if a caller left them on.
  std::string host = verify_host;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  bool ok = true;
  if (IsIpAddress(host)) {
    ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_.get()), host.c_str()) == 1;
  } else {
    ok = SSL_set1_host(ssl_.get(), host.c_str()) == 1 &&
         SSL_set_tlsext_host_name(ssl_.get(), host.c_str()) == 1;
  }
  if (!ok) {
    return Status(StatusCode::kUnavailable, "cannot verify TLS peer name \"" + host +
                                                "\": " + TakeOpenSslError("invalid name"));
  }
  if (!session_key.empty()) {
    // The name verified is part of the key: a session vouches for the name it was verified as.
    session_key_ = host + "@" + session_key;
    context_->UseSessionCache(ssl_.get(), &session_key_);
  }
  return Status();
}

std::string OpenSslSession::FailureReason(int ssl_error, int ret) {
  if (ssl_error == SSL_ERROR_SYSCALL) {
    const int err = errno;
    ERR_clear_error();
    if (ret == 0 || err == 0) return "connection closed by the peer";
    return std::strerror(err);
  }
  if (ssl_error == SSL_ERROR_ZERO_RETURN) {
    ERR_clear_error();
    return "connection closed by the peer";
  }
  std::string reason = TakeOpenSslError("TLS error");
  const long verify = SSL_get_verify_result(ssl_.get());
  if (verify != X509_V_OK) {
    reason += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
  } else if (reason == "wrong version number" || reason == "packet length too long" ||
             reason == "http request") {
    reason += " (is the peer speaking TLS?)";
  }
  return reason;
}

TlsSession::HandshakeResult OpenSslSession::Handshake() {
  ERR_clear_error();
  const int ret = SSL_do_handshake(ssl_.get());
  if (ret != 1) {
    const int ssl_error = SSL_get_error(ssl_.get(), ret);
    if (ssl_error == SSL_ERROR_WANT_READ) return HandshakeResult::kWantRead;
    if (ssl_error == SSL_ERROR_WANT_WRITE) return HandshakeResult::kWantWrite;
    error_ = FailureReason(ssl_error, ret);
    return HandshakeResult::kFailed;
  }
  const unsigned char* alpn = nullptr;
  unsigned int alpn_length = 0;
  SSL_get0_alpn_selected(ssl_.get(), &alpn, &alpn_length);
  if (alpn_length != 2 || std::memcmp(alpn, "h2", 2) != 0) {
    error_ = "TLS peer did not negotiate ALPN h2";
    return HandshakeResult::kFailed;
  }
  return HandshakeResult::kDone;
}

ssize_t OpenSslSession::Read(uint8_t* buf, size_t len) {
  read_wants_write_ = false;
  ERR_clear_error();
  const int ret = SSL_read(ssl_.get(), buf, static_cast<int>(std::min<size_t>(len, 1 << 30)));
  if (ret > 0) return ret;
  const int ssl_error = SSL_get_error(ssl_.get(), ret);
  switch (ssl_error) {
    case SSL_ERROR_WANT_READ:
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_WANT_WRITE:  // e.g. a TLS 1.3 KeyUpdate answer waits for socket room
      read_wants_write_ = true;
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;
    case SSL_ERROR_SYSCALL:
      if (errno == 0 || ret == 0) return 0;
      [[fallthrough]];
    default:
      error_ = FailureReason(ssl_error, ret);
      errno = EPROTO;
      return -1;
  }
}

ssize_t OpenSslSession::Flush(OutputBuffer& output) {
  return output.Flush([this](const iovec* iov, int count) -> ssize_t {
    const void* data = iov[0].iov_base;
    size_t length = iov[0].iov_len;
    if (length < kRecordPayload && count > 1) {
      // Gather small segments into one record. A retry after WANT_WRITE gathers the same bytes
      // (the buffer only grows at its end), which is what OpenSSL requires of a retry.
      coalesce_.clear();
      for (int i = 0; i < count && coalesce_.size() < kRecordPayload; ++i) {
        const size_t take = std::min(iov[i].iov_len, kRecordPayload - coalesce_.size());
        coalesce_.append(static_cast<const char*>(iov[i].iov_base), take);
      }
      data = coalesce_.data();
      length = coalesce_.size();
    }
    ERR_clear_error();
    const int ret =
        SSL_write(ssl_.get(), data, static_cast<int>(std::min<size_t>(length, 1 << 30)));
    if (ret > 0) return ret;
    const int ssl_error = SSL_get_error(ssl_.get(), ret);
    if (ssl_error == SSL_ERROR_WANT_WRITE || ssl_error == SSL_ERROR_WANT_READ) {
      errno = EAGAIN;
      return -1;
    }
    error_ = FailureReason(ssl_error, ret);
    if (ssl_error == SSL_ERROR_SYSCALL) {
      // A peer that rejects us after our side of the handshake finished (TLS 1.3: the server
      // checks our certificate then) sends an alert and closes; with our bytes unread there,
      // its close is a reset, and our next write fails first. The alert says why.
      std::string alert = PendingAlert();
      if (!alert.empty()) error_ = std::move(alert);
    }
    errno = EPROTO;
    return -1;
  });
}

void OpenSslSession::SendCloseNotify() {
  if (SSL_is_init_finished(ssl_.get()) != 1) return;  // mid-handshake: an alert would be noise
  ERR_clear_error();
  SSL_shutdown(ssl_.get());  // the first call only sends ours; the peer's is not awaited
  ERR_clear_error();
}

std::string OpenSslSession::PendingAlert() {
  ERR_clear_error();
  char scratch[512];
  const int ret = SSL_read(ssl_.get(), scratch, sizeof(scratch));
  if (ret > 0 || SSL_get_error(ssl_.get(), ret) != SSL_ERROR_SSL) {
    ERR_clear_error();
    return "";
  }
  return TakeOpenSslError("");
}

PeerIdentity OpenSslSession::Peer() const {
  PeerIdentity identity;
  identity.tls = true;
  identity.tls_version = SSL_get_version(ssl_.get());
  identity.session_reused = SSL_session_reused(ssl_.get()) == 1;
  X509* cert = SSL_get0_peer_certificate(ssl_.get());
  if (cert == nullptr) return identity;
  identity.authenticated =
      context_->verifies_peer() && SSL_get_verify_result(ssl_.get()) == X509_V_OK;
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    char* text = nullptr;
    const long n = BIO_get_mem_data(bio, &text);
    if (n > 0) identity.subject.assign(text, static_cast<size_t>(n));
    BIO_free(bio);
  }
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type == GEN_DNS) {
        identity.dns_sans.push_back(Ia5(name->d.dNSName));
      } else if (name->type == GEN_URI) {
        identity.uri_sans.push_back(Ia5(name->d.uniformResourceIdentifier));
      } else if (name->type == GEN_IPADD) {
        const ASN1_OCTET_STRING* ip = name->d.iPAddress;
        char text[INET6_ADDRSTRLEN] = {};
        const int length = ASN1_STRING_length(ip);
        const int family = length == 4 ? AF_INET : length == 16 ? AF_INET6 : 0;
        if (family != 0 && inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof(text))) {
          identity.ip_sans.emplace_back(text);
        }
      }
    }
    GENERAL_NAMES_free(names);
  }
  ERR_clear_error();
  return identity;
}

Status OpenSslContext::NewSession(int fd, const std::string& verify_host,
                                  const std::string& session_key,
                                  std::unique_ptr<TlsSession>* session) const {
  auto tls = std::make_unique<OpenSslSession>(shared_from_this());
  if (Status started = tls->Start(fd, verify_host, session_key); !started.ok()) return started;
  *session = std::move(tls);
  return Status();
}

}  // namespace h2rpc::transport
