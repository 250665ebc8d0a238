// The TLS credentials: the only callers of TlsContext::ForClient / ForServer, kept apart from
// the insecure ones so that a plaintext program links no OpenSSL (see transport/tls_context.h).
#include "rpc/credentials.h"
#include "transport/tls_context.h"

namespace h2rpc {

namespace {

transport::TlsVersion ToTransport(TlsVersion v) {
  return v == TlsVersion::kTls12 ? transport::TlsVersion::kTls12 : transport::TlsVersion::kTls13;
}

transport::ClientCertificateRequest ToTransport(SslClientCertificateRequest r) {
  using In = SslClientCertificateRequest;
  using Out = transport::ClientCertificateRequest;
  switch (r) {
    case In::kDontRequest:
      return Out::kDontRequest;
    case In::kRequestButDontVerify:
      return Out::kRequestButDontVerify;
    case In::kRequestAndVerify:
      return Out::kRequestAndVerify;
    case In::kRequireButDontVerify:
      return Out::kRequireButDontVerify;
    case In::kRequireAndVerify:
      return Out::kRequireAndVerify;
  }
  return Out::kRequireAndVerify;
}

}  // namespace

std::shared_ptr<ChannelCredentials> SslCredentials(const SslCredentialsOptions& options) {
  auto credentials = std::shared_ptr<ChannelCredentials>(new ChannelCredentials());
  credentials->secure_ = true;
  transport::TlsClientConfig config;
  config.pem_root_certs = options.pem_root_certs;
  config.pem_private_key = options.pem_private_key;
  config.pem_cert_chain = options.pem_cert_chain;
  config.min_version = ToTransport(options.min_tls_version);
  config.max_version = ToTransport(options.max_tls_version);
  auto context = transport::TlsContext::ForClient(config);
  if (context.ok()) {
    credentials->tls_ = std::move(*context);
  } else {
    credentials->status_ = context.status();
  }
  return credentials;
}

std::shared_ptr<ServerCredentials> SslServerCredentials(
    const SslServerCredentialsOptions& options) {
  auto credentials = std::shared_ptr<ServerCredentials>(new ServerCredentials());
  credentials->secure_ = true;
  if (options.pem_key_cert_pairs.size() != 1) {
    credentials->status_ = Status(StatusCode::kInvalidArgument,
                                  "SslServerCredentials needs exactly one key/certificate pair");
    return credentials;
  }
  transport::TlsServerConfig config;
  config.pem_root_certs = options.pem_root_certs;
  config.pem_private_key = options.pem_key_cert_pairs[0].private_key;
  config.pem_cert_chain = options.pem_key_cert_pairs[0].cert_chain;
  config.client_certificate_request = ToTransport(options.client_certificate_request);
  config.min_version = ToTransport(options.min_tls_version);
  config.max_version = ToTransport(options.max_tls_version);
  auto context = transport::TlsContext::ForServer(config);
  if (context.ok()) {
    credentials->tls_ = std::move(*context);
  } else {
    credentials->status_ = context.status();
  }
  return credentials;
}

}  // namespace h2rpc
