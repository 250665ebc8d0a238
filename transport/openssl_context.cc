#include "transport/openssl_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace h2rpc::transport {

namespace {

constexpr unsigned char kAlpnH2[] = {2, 'h', '2'};

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

Status Invalid(const std::string& what) {
  return Status(StatusCode::kInvalidArgument, what + ": " + TakeOpenSslError("unknown error"));
}

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

/// Every certificate in `pem`, in order. Empty (with the OpenSSL error queued) if none parses.
std::vector<X509Ptr> ReadCertificates(const std::string& pem) {
  std::vector<X509Ptr> certs;
  BioPtr bio = MemoryBio(pem);
  if (!bio) return certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  // The loop ends with "no start line" at the end of the input: not an error once we have some.
  if (!certs.empty()) ERR_clear_error();
  return certs;
}

int ToOpenSslVersion(TlsVersion v) {
  return v == TlsVersion::kTls12 ? TLS1_2_VERSION : TLS1_3_VERSION;
}

Status CommonSetup(SSL_CTX* ctx, TlsVersion min_version, TlsVersion max_version) {
  if (SSL_CTX_set_min_proto_version(ctx, ToOpenSslVersion(min_version)) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, ToOpenSslVersion(max_version)) != 1) {
    return Invalid("unsupported TLS version range");
  }
  // Partial writes: SSL_write returns after each record, so a full socket never makes us
  // re-encrypt. Moving buffer: a retried write may come from a different address (our output
  // segments are re-gathered on every flush).
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // No renegotiation (a TLS 1.2 feature HTTP/2 forbids after the preface, RFC 9113 §9.2.1);
  // a peer that closes without close_notify is an EOF (HTTP/2 framing protects truncation).
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  return Status();
}

Status UseKeyAndChain(SSL_CTX* ctx, const std::string& key_pem, const std::string& chain_pem) {
  std::vector<X509Ptr> chain = ReadCertificates(chain_pem);
  if (chain.empty()) return Invalid("cannot read the certificate chain PEM");
  if (SSL_CTX_use_certificate(ctx, chain[0].get()) != 1)
    return Invalid("cannot use the certificate");
  for (size_t i = 1; i < chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, chain[i].get()) != 1) {
      return Invalid("cannot use an intermediate certificate");
    }
  }
  BioPtr bio = MemoryBio(key_pem);
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return Invalid("cannot read the private key PEM");
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return Invalid("the private key does not match the certificate");
  }
  return Status();
}

Status TrustRoots(SSL_CTX* ctx, const std::string& roots_pem, bool advertise_to_clients) {
  std::vector<X509Ptr> roots = ReadCertificates(roots_pem);
  if (roots.empty()) return Invalid("cannot read the root certificates PEM");
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const X509Ptr& root : roots) {
    if (X509_STORE_add_cert(store, root.get()) != 1)
      return Invalid("cannot add a root certificate");
    // Tells clients whose certificates we accept (their stacks pick a matching one).
    if (advertise_to_clients) SSL_CTX_add_client_CA(ctx, root.get());
  }
  return Status();
}

/// Server: select "h2" or refuse the handshake (no_application_protocol alert).
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kAlpnH2, sizeof(kAlpnH2), in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

/// "Don't verify" modes: accept whatever certificate the client sends.
int AcceptAnyCertificate(int, X509_STORE_CTX*) { return 1; }

/// ex_data slots: the OpenSslContext on its SSL_CTX, the session key on each client SSL.
int ContextIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
int SessionKeyIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

OpenSslContext::~OpenSslContext() {
  for (auto& [key, session] : sessions_) SSL_SESSION_free(session);
}

void OpenSslContext::UseSessionCache(SSL* ssl, const std::string* key) const {
  SSL_set_ex_data(ssl, SessionKeyIndex(), const_cast<std::string*>(key));
  std::lock_guard<std::mutex> lock(sessions_mu_);
  auto it = sessions_.find(*key);
  if (it != sessions_.end()) SSL_set_session(ssl, it->second);  // takes its own reference
}

int OpenSslContext::OnNewSession(SSL* ssl, SSL_SESSION* issued) {
  const auto* key = static_cast<const std::string*>(SSL_get_ex_data(ssl, SessionKeyIndex()));
  const auto* self =
      static_cast<const OpenSslContext*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ContextIndex()));
  if (key == nullptr || self == nullptr || SSL_SESSION_is_resumable(issued) != 1) return 0;
  // A copy: OpenSSL marks the connection's own session unresumable when the connection ends
  // without close_notify (a server's GOAWAY and close, a channel destroyed), which says nothing
  // against the ticket.
  SSL_SESSION* session = SSL_SESSION_dup(issued);
  if (session == nullptr) return 0;
  std::lock_guard<std::mutex> lock(self->sessions_mu_);
  auto [it, inserted] = self->sessions_.try_emplace(*key, session);
  if (!inserted) {
    SSL_SESSION_free(it->second);  // TLS 1.3 servers send several tickets: keep the newest
    it->second = session;
  } else if (self->sessions_.size() > kMaxCachedSessions) {
    auto victim = self->sessions_.begin() == it ? std::next(it) : self->sessions_.begin();
    SSL_SESSION_free(victim->second);
    self->sessions_.erase(victim);
  }
  return 0;  // OpenSSL keeps (and frees) `issued`; we own the copy
}

std::string TakeOpenSslError(const char* fallback) {
  const unsigned long err = ERR_peek_last_error();
  std::string text;
  if (err != 0) {
    const char* reason = ERR_reason_error_string(err);
    if (reason != nullptr) {
      text = reason;
    } else {
      char buf[256];
      ERR_error_string_n(err, buf, sizeof(buf));
      text = buf;
    }
  } else {
    text = fallback;
  }
  ERR_clear_error();
  return text;
}

StatusOr<std::shared_ptr<const TlsContext>> TlsContext::ForClient(const TlsClientConfig& config) {
  ERR_clear_error();
  auto context = std::make_shared<OpenSslContext>();
  context->ctx_.reset(SSL_CTX_new(TLS_client_method()));
  SSL_CTX* ctx = context->ctx_.get();
  if (ctx == nullptr) return Invalid("cannot create a TLS context");
  if (Status s = CommonSetup(ctx, config.min_version, config.max_version); !s.ok()) return s;
  if (config.pem_root_certs.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) return Invalid("cannot load the system roots");
  } else if (Status s = TrustRoots(ctx, config.pem_root_certs, false); !s.ok()) {
    return s;
  }
  if (config.pem_private_key.empty() != config.pem_cert_chain.empty()) {
    return Status(StatusCode::kInvalidArgument,
                  "a client certificate needs both pem_private_key and pem_cert_chain");
  }
  if (!config.pem_cert_chain.empty()) {
    if (Status s = UseKeyAndChain(ctx, config.pem_private_key, config.pem_cert_chain); !s.ok()) {
      return s;
    }
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_ex_data(ctx, ContextIndex(), context.get());
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, &OpenSslContext::OnNewSession);
  // Note: SSL_CTX_set_alpn_protos returns 0 on success (unlike most of OpenSSL).
  if (SSL_CTX_set_alpn_protos(ctx, kAlpnH2, sizeof(kAlpnH2)) != 0)
    return Invalid("cannot set ALPN");
  context->verifies_peer_ = true;
  return std::shared_ptr<const TlsContext>(std::move(context));
}

StatusOr<std::shared_ptr<const TlsContext>> TlsContext::ForServer(const TlsServerConfig& config) {
  ERR_clear_error();
  auto context = std::make_shared<OpenSslContext>();
  context->is_server_ = true;
  context->ctx_.reset(SSL_CTX_new(TLS_server_method()));
  SSL_CTX* ctx = context->ctx_.get();
  if (ctx == nullptr) return Invalid("cannot create a TLS context");
  if (Status s = CommonSetup(ctx, config.min_version, config.max_version); !s.ok()) return s;
  if (Status s = UseKeyAndChain(ctx, config.pem_private_key, config.pem_cert_chain); !s.ok()) {
    return s;
  }
  using Request = ClientCertificateRequest;
  const Request request = config.client_certificate_request;
  const bool verify =
      request == Request::kRequestAndVerify || request == Request::kRequireAndVerify;
  if (verify && config.pem_root_certs.empty()) {
    return Status(StatusCode::kInvalidArgument,
                  "verifying client certificates needs pem_root_certs");
  }
  if (!config.pem_root_certs.empty()) {
    if (Status s = TrustRoots(ctx, config.pem_root_certs, true); !s.ok()) return s;
  }
  switch (request) {
    case Request::kDontRequest:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
      break;
    case Request::kRequestButDontVerify:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, AcceptAnyCertificate);
      break;
    case Request::kRequestAndVerify:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      break;
    case Request::kRequireButDontVerify:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                         AcceptAnyCertificate);
      break;
    case Request::kRequireAndVerify:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }
  context->verifies_peer_ = verify;
  // Without a session id context OpenSSL refuses to resume a session whose client certificate
  // it verified (the handshake fails): any fixed value will do, one context per server.
  static constexpr unsigned char kSessionIdContext[] = "h2rpc";
  SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof kSessionIdContext - 1);
  SSL_CTX_set_alpn_select_cb(ctx, SelectAlpn, nullptr);
  return std::shared_ptr<const TlsContext>(std::move(context));
}

}  // namespace h2rpc::transport
