// TLS for the socket harnesses (fuzz_server_tls, fuzz_client_tls): a self-signed certificate
// made in memory at start-up, and the harness's end of a TLS connection over a loopback socket
// (the client end facing an h2rpc server, or the server end facing an h2rpc client), whose
// record boundaries, TLS version, ALPN and way of ending the fuzz input chooses. The bytes inside
// the records are the same HTTP/2 scripts the plaintext harnesses play.
//
// What this reaches that the plaintext harnesses do not: h2rpc's OpenSSL glue
// (transport/openssl_session.cc, its socket BIO, the handshake driven from the event loop, the
// client's certificate check, session resumption — the server's by a session of an earlier
// input (about one handshake in fifteen), the client's only when an input makes it reconnect
// (rare: each input listens on a new port, and the client keys sessions by address) — reads of
// partial records and of records holding several frames, KeyUpdate, close_notify, a TCP end without
// close_notify, and bytes that are not TLS at all arriving mid-connection).
#pragma once

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "fuzz_check.h"

namespace fuzz_tls {

struct KeyAndCertificate {
  std::string private_key_pem;
  std::string certificate_pem;
};

inline std::string BioContents(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

// A P-256 key and a self-signed certificate for "localhost", valid for a day.
inline KeyAndCertificate MakeSelfSigned() {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  FUZZ_CHECK(key != nullptr);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  FUZZ_CHECK(cert != nullptr);
  FUZZ_CHECK(X509_set_version(cert.get(), 2) == 1);
  FUZZ_CHECK(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1) == 1);
  FUZZ_CHECK(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr);
  FUZZ_CHECK(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400) != nullptr);
  X509_NAME* name = X509_get_subject_name(cert.get());
  FUZZ_CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                        reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                                        0) == 1);
  FUZZ_CHECK(X509_set_issuer_name(cert.get(), name) == 1);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : {std::pair{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
                                   std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    FUZZ_CHECK(extension != nullptr);
    FUZZ_CHECK(X509_add_ext(cert.get(), extension, -1) == 1);
    X509_EXTENSION_free(extension);
  }
  FUZZ_CHECK(X509_set_pubkey(cert.get(), key.get()) == 1);
  FUZZ_CHECK(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);

  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(BIO_new(BIO_s_mem()), BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(BIO_new(BIO_s_mem()), BIO_free);
  FUZZ_CHECK(key_bio != nullptr && cert_bio != nullptr);
  FUZZ_CHECK(PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                      nullptr) == 1);
  FUZZ_CHECK(PEM_write_bio_X509(cert_bio.get(), cert.get()) == 1);
  return {BioContents(key_bio.get()), BioContents(cert_bio.get())};
}

// What the fuzz input chose about the TLS connection (one byte).
struct TlsChoices {
  size_t record_size = 0;  // bytes per SSL_write (each one record); 0: the whole batch at once
  bool tls12 = false;      // cap the version at TLS 1.2 (else 1.3)
  // false: the harness's ALPN leaves h2 out (as a client it offers only http/1.1, as a server it
  // selects none), and the h2rpc end must refuse the connection
  bool offer_h2 = true;
  // As a client: offer the newest session the server gave an earlier input's connection of the
  // same TLS version (a TLS 1.3 ticket or a TLS 1.2 session ticket), which the h2rpc server must
  // resume. Ignored by the server end.
  bool resume = false;
  enum class Ending : uint8_t { kFin, kCloseNotify, kGarbage, kKeyUpdate } ending = Ending::kFin;

  static TlsChoices From(uint8_t byte) {
    static constexpr size_t kRecordSizes[4] = {0, 7, 100, 1200};
    TlsChoices c;
    c.record_size = kRecordSizes[byte & 3];
    c.ending = static_cast<Ending>((byte >> 2) & 3);
    c.tls12 = (byte & 16) != 0;
    const unsigned top = byte >> 5;
    c.offer_h2 = top != 7;            // one input in eight leaves h2 out
    c.resume = top == 1 || top == 2;  // two in eight resume
    return c;
  }
};

// The newest session the server issued to the harness's client, per TLS version (0: 1.2,
// 1: 1.3). Each is offered once: a TLS 1.3 server may treat tickets as single-use.
struct SessionFree {
  void operator()(SSL_SESSION* session) const { SSL_SESSION_free(session); }
};
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionFree>;
inline SessionPtr& SavedSession(bool tls13) {
  static SessionPtr saved[2];
  return saved[tls13 ? 1 : 0];
}

inline int KeepNewestSession(SSL* ssl, SSL_SESSION* session) {
  if (SSL_SESSION_is_resumable(session) != 1) return 0;
  // A copy: OpenSSL marks the connection's own session unresumable if the connection ends
  // without close_notify, as many inputs end it.
  SessionPtr copy(SSL_SESSION_dup(session));
  FUZZ_CHECK(copy != nullptr);
  SavedSession(SSL_version(ssl) >= TLS1_3_VERSION) = std::move(copy);
  return 0;  // OpenSSL keeps its reference to `session`
}

inline SSL_CTX* ClientContext() {
  static SSL_CTX* const context = [] {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    FUZZ_CHECK(ctx != nullptr);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);  // the harness trusts its own server
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, KeepNewestSession);
    return ctx;
  }();
  return context;
}

// ALPN as a server: h2 when the client offers it (the h2rpc client always does).
// A connection whose app data is set declines instead (no protocol agreed).
inline int SelectH2(SSL* ssl, const unsigned char** out, unsigned char* out_length,
                    const unsigned char* offered, unsigned int offered_length, void*) {
  static constexpr unsigned char kH2[] = {2, 'h', '2'};
  if (SSL_get_app_data(ssl) != nullptr) return SSL_TLSEXT_ERR_NOACK;
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_length, kH2, sizeof kH2, offered, offered_length) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// One server context for the whole run (made from the first key and certificate it is given).
inline SSL_CTX* ServerContext(const KeyAndCertificate& key_and_cert) {
  static SSL_CTX* const context = [&] {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    FUZZ_CHECK(ctx != nullptr);
    std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(
        BIO_new_mem_buf(key_and_cert.private_key_pem.data(),
                        static_cast<int>(key_and_cert.private_key_pem.size())),
        BIO_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(
        BIO_new_mem_buf(key_and_cert.certificate_pem.data(),
                        static_cast<int>(key_and_cert.certificate_pem.size())),
        BIO_free);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
        PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
    std::unique_ptr<X509, decltype(&X509_free)> cert(
        PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr), X509_free);
    FUZZ_CHECK(key != nullptr && cert != nullptr);
    FUZZ_CHECK(SSL_CTX_use_certificate(ctx, cert.get()) == 1);
    FUZZ_CHECK(SSL_CTX_use_PrivateKey(ctx, key.get()) == 1);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
    SSL_CTX_set_alpn_select_cb(ctx, SelectH2, nullptr);
    return ctx;
  }();
  return context;
}

// The harness's end of one TLS connection: the client end (fuzz_server_tls) or the server end
// (fuzz_client_tls). The socket is non-blocking; every wait polls with a deadline, so a peer that
// stops answering shows up as a timeout, not a stuck harness.
class TlsWire {
 public:
  static constexpr ssize_t kWouldBlock = -2;
  enum class Role { kClient, kServer };

  // `key_and_cert`: the server end's (kServer only).
  TlsWire(int fd, const TlsChoices& choices, Role role,
          const KeyAndCertificate* key_and_cert = nullptr)
      : fd_(fd), choices_(choices), role_(role) {
    FUZZ_CHECK(fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK) == 0);
    ssl_.reset(SSL_new(role == Role::kClient ? ClientContext() : ServerContext(*key_and_cert)));
    FUZZ_CHECK(ssl_ != nullptr);
    FUZZ_CHECK(SSL_set_fd(ssl_.get(), fd_) == 1);
    if (choices_.tls12) SSL_set_max_proto_version(ssl_.get(), TLS1_2_VERSION);
    if (Tracing()) SSL_set_msg_callback(ssl_.get(), TraceMessage);
    if (role == Role::kServer) {
      // Without h2 the server end agrees to no protocol at all (see SelectH2).
      static char decline;
      if (!choices_.offer_h2) SSL_set_app_data(ssl_.get(), &decline);
      SSL_set_accept_state(ssl_.get());
      return;
    }
    static constexpr unsigned char kH2[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    static constexpr unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    if (choices_.offer_h2) {
      SSL_set_alpn_protos(ssl_.get(), kH2, sizeof kH2);
    } else {
      SSL_set_alpn_protos(ssl_.get(), kHttp11, sizeof kHttp11);
    }
    SSL_set_tlsext_host_name(ssl_.get(), "localhost");
    if (choices_.resume) {
      if (SessionPtr session = std::move(SavedSession(!choices_.tls12))) {
        FUZZ_CHECK(SSL_set_session(ssl_.get(), session.get()) == 1);  // takes its own reference
        offered_session_ = true;
      }
    }
    SSL_set_connect_state(ssl_.get());
  }
  TlsWire(const TlsWire&) = delete;
  TlsWire& operator=(const TlsWire&) = delete;

  int fd() const { return fd_; }

  // False when the peer refused or dropped the handshake (an h2rpc server must, without h2 in
  // ALPN; an h2rpc client may end it once it sees no h2 agreed).
  bool Handshake(std::chrono::milliseconds wait) {
    const auto until = std::chrono::steady_clock::now() + wait;
    for (;;) {
      const int ret = SSL_do_handshake(ssl_.get());
      if (ret == 1) break;
      const int error = SSL_get_error(ssl_.get(), ret);
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return false;
      }
      if (!WaitFor(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, until)) return false;
    }
    const unsigned char* alpn = nullptr;
    unsigned int alpn_length = 0;
    SSL_get0_alpn_selected(ssl_.get(), &alpn, &alpn_length);
    const std::string_view agreed(reinterpret_cast<const char*>(alpn), alpn_length);
    if (Tracing()) {
      std::fprintf(stderr, "trace: tls handshake done, session %s\n",
                   SSL_session_reused(ssl_.get()) ? "resumed"
                   : offered_session_             ? "offered but not resumed"
                                                  : "new");
    }
    if (role_ == Role::kClient) {
      // The h2rpc server speaks only h2: anything else agreed is a bug in its ALPN callback.
      FUZZ_CHECK(agreed == "h2");
      FUZZ_CHECK(choices_.offer_h2);
      // A session the server issued moments ago, of this version: it must take it back.
      if (offered_session_) FUZZ_CHECK(SSL_session_reused(ssl_.get()) == 1);
    } else {
      FUZZ_CHECK(agreed == (choices_.offer_h2 ? "h2" : ""));
    }
    return true;
  }

  // Sends `bytes` as records of the chosen size; false once the peer closed the connection.
  bool Send(std::string_view bytes) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!bytes.empty()) {
      const size_t record =
          choices_.record_size == 0 ? bytes.size() : std::min(bytes.size(), choices_.record_size);
      const int ret = SSL_write(ssl_.get(), bytes.data(), static_cast<int>(record));
      if (ret > 0) {
        bytes.remove_prefix(static_cast<size_t>(ret));
        continue;
      }
      const int error = SSL_get_error(ssl_.get(), ret);
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return false;
      }
      // A peer that reads nothing for 5 s while we have bytes for it is as good as gone.
      if (!WaitFor(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, until)) return false;
    }
    return true;
  }

  // What ReadWireUntil calls: > 0 bytes read, 0 the peer ended the connection (close_notify),
  // -1 a broken connection (also a TCP end without close_notify), kWouldBlock nothing to read yet.
  ssize_t Read(char* buffer, size_t size) {
    const int ret = SSL_read(ssl_.get(), buffer, static_cast<int>(size));
    if (ret > 0) return ret;
    const int error = SSL_get_error(ssl_.get(), ret);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return kWouldBlock;
    if (Tracing()) {
      std::fprintf(stderr, "trace: tls read ended: SSL error %d, errno %d\n", error, errno);
      ERR_print_errors_fp(stderr);
    }
    ERR_clear_error();
    return error == SSL_ERROR_ZERO_RETURN ? 0 : -1;
  }
  bool Buffered() const { return SSL_pending(ssl_.get()) > 0; }

  // A TLS 1.3 KeyUpdate asking the peer to update its keys too (TLS 1.2: nothing).
  void RequestKeyUpdate() {
    if (SSL_version(ssl_.get()) >= TLS1_3_VERSION) {
      SSL_key_update(ssl_.get(), SSL_KEY_UPDATE_REQUESTED);
      // Sends it now if the socket has room; otherwise the next SSL_write carries it.
      if (SSL_do_handshake(ssl_.get()) != 1) ERR_clear_error();
    }
  }

  // Ends the harness's side the way the input chose; the peer must then close its side.
  void End() {
    switch (choices_.ending) {
      case TlsChoices::Ending::kCloseNotify:
      case TlsChoices::Ending::kKeyUpdate:
        SSL_shutdown(ssl_.get());  // sends close_notify; ReadWireUntil reads the answer
        break;
      case TlsChoices::Ending::kGarbage: {
        // Bytes that are no TLS record, straight onto the socket mid-connection.
        static constexpr char kJunk[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x16\x03\x03\xff\xff";
        (void)!send(fd_, kJunk, sizeof kJunk - 1, MSG_NOSIGNAL);
        break;
      }
      case TlsChoices::Ending::kFin:
        break;
    }
    shutdown(fd_, SHUT_WR);
  }

  TlsChoices::Ending ending() const { return choices_.ending; }

 private:
  bool WaitFor(short events, std::chrono::steady_clock::time_point until) {
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, events, 0};
      const int n = poll(&p, 1, static_cast<int>(left.count()));
      if (n > 0) return true;
      if (n < 0 && errno != EINTR) return false;
    }
  }

  static bool Tracing() {
    return std::getenv("FUZZ_SERVER_TRACE") != nullptr ||
           std::getenv("FUZZ_CLIENT_TRACE") != nullptr;
  }

  static void TraceMessage(int write_p, int version, int content_type, const void* buf, size_t len,
                           SSL*, void*) {
    if (content_type == SSL3_RT_HEADER || content_type == SSL3_RT_INNER_CONTENT_TYPE) return;
    const auto* bytes = static_cast<const unsigned char*>(buf);
    std::fprintf(stderr, "trace: tls %s version 0x%x content type %d, %zu bytes: %02x %02x\n",
                 write_p ? "sent" : "received", version, content_type, len, len > 0 ? bytes[0] : 0,
                 len > 1 ? bytes[1] : 0);
  }

  struct SslFree {
    void operator()(SSL* ssl) const { SSL_free(ssl); }
  };
  int fd_;
  TlsChoices choices_;
  Role role_;
  bool offered_session_ = false;
  std::unique_ptr<SSL, SslFree> ssl_;
};

}  // namespace fuzz_tls
