// TLS failure paths (SECURITY.md item 27): each ends UNAVAILABLE with OpenSSL's reason, in
// bounded time, never a hang. Also ALPN enforcement and handshake timeouts on both sides.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "tests/tls/tls_fixture.h"

namespace h2rpc::testing {
namespace {

using Clock = std::chrono::steady_clock;

/// Far above what any failure here needs, even under sanitizers: only a hang exceeds it.
constexpr auto kBound = std::chrono::seconds(30);

SslCredentialsOptions TrustTestCa() {
  SslCredentialsOptions options;
  options.pem_root_certs = Certs().ca;
  return options;
}

std::shared_ptr<ServerCredentials> ServerWith(const std::string& cert, const std::string& key) {
  return SslServerCredentials(ServerTlsOptions(cert, key));
}

/// One call that must fail UNAVAILABLE, in bounded time, with `reason` in its message.
void ExpectUnavailable(Channel& channel, const std::string& reason) {
  const auto start = Clock::now();
  const Status s = CallUnary(channel);
  const auto took = Clock::now() - start;
  INFO("status: " << s.ToString());
  CHECK(s.code() == StatusCode::kUnavailable);
  CHECK(s.message().find(reason) != std::string::npos);
  CHECK(took < kBound);
}

/// A loopback listening socket that is never accepted: the kernel completes TCP, nobody speaks.
struct SilentListener {
  int fd = -1;
  int port = 0;
  SilentListener() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(listen(fd, 8) == 0);
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~SilentListener() { close(fd); }
};

int ConnectLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  timeval tv{30, 0};  // kBound: a blocking read must not hang the test
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

/// The raw OpenSSL peers below write with write(2) (SSL_set_fd); a peer that hung up would
/// raise SIGPIPE. They run on threads with SIGPIPE blocked: a thread-directed SIGPIPE then stays
/// pending and is discarded when the thread exits.
void BlockSigpipeOnThisThread() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

struct CtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

/// A TLS server (blocking OpenSSL, one connection) that ignores ALPN: it never selects "h2".
struct NoAlpnTlsServer {
  SilentListener listener;
  std::thread thread;
  std::unique_ptr<SSL_CTX, CtxFree> ctx{SSL_CTX_new(TLS_server_method())};

  NoAlpnTlsServer() {
    BIO* cert_bio = BIO_new_mem_buf(Certs().server_cert.data(), -1);
    BIO* key_bio = BIO_new_mem_buf(Certs().server_key.data(), -1);
    X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
    EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
    REQUIRE(SSL_CTX_use_certificate(ctx.get(), cert) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey(ctx.get(), key) == 1);
    X509_free(cert);
    EVP_PKEY_free(key);
    BIO_free(cert_bio);
    BIO_free(key_bio);
    thread = std::thread([this] {
      BlockSigpipeOnThisThread();
      const int fd = accept(listener.fd, nullptr, nullptr);
      if (fd < 0) return;
      timeval tv{30, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
      SSL_set_fd(ssl.get(), fd);
      if (SSL_accept(ssl.get()) == 1) {
        char buf[1024];
        while (SSL_read(ssl.get(), buf, sizeof(buf)) > 0) {
        }
      }
      close(fd);
    });
  }
  ~NoAlpnTlsServer() { thread.join(); }
};

/// A blocking OpenSSL client offering `alpn` (wire format; empty: no ALPN) to `port`. Returns
/// whether the server let it exchange application data (read before EOF/error).
bool RawTlsClientGetsDataOnThisThread(int port, const std::string& alpn) {
  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  if (!alpn.empty()) {
    SSL_CTX_set_alpn_protos(ctx.get(), reinterpret_cast<const unsigned char*>(alpn.data()),
                            static_cast<unsigned>(alpn.size()));
  }
  const int fd = ConnectLoopback(port);
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), fd);
  bool got_data = false;
  if (SSL_connect(ssl.get()) == 1) {
    // TLS 1.3: the client finishes first; our server's verdict arrives with the next read.
    const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    SSL_write(ssl.get(), preface, sizeof(preface) - 1);
    char buf[256];
    got_data = SSL_read(ssl.get(), buf, sizeof(buf)) > 0;  // the server's SETTINGS
  }
  ERR_clear_error();
  close(fd);
  return got_data;
}

bool RawTlsClientGetsData(int port, const std::string& alpn) {
  bool got_data = false;
  std::thread client([&] {
    BlockSigpipeOnThisThread();
    got_data = RawTlsClientGetsDataOnThisThread(port, alpn);
  });
  client.join();
  return got_data;
}

TEST_CASE("untrusted certificate: UNAVAILABLE with the verification reason") {
  TlsServer ts = StartTlsServer(ServerWith(Certs().untrusted_cert, Certs().untrusted_key));
  auto channel = TlsChannel("127.0.0.1:" + std::to_string(ts.port), TrustTestCa());
  ExpectUnavailable(*channel, "certificate verify failed (unable to get local issuer certificate)");
  // No hang on the server either: the next, good client is served.
  auto good = TlsChannel("127.0.0.1:" + std::to_string(ts.port), [] {
    SslCredentialsOptions o;
    o.pem_root_certs = Certs().rogue_ca;
    return o;
  }());
  const Status s = CallUnary(*good);
  CHECK_MESSAGE(s.ok(), s.ToString());
}

TEST_CASE("wrong host name: UNAVAILABLE, hostname mismatch") {
  TlsServer ts = StartTlsServer(ServerWith(Certs().wronghost_cert, Certs().wronghost_key));
  auto by_name = TlsChannel("localhost:" + std::to_string(ts.port), TrustTestCa());
  ExpectUnavailable(*by_name, "certificate verify failed (hostname mismatch)");
  auto by_ip = TlsChannel("127.0.0.1:" + std::to_string(ts.port), TrustTestCa());
  ExpectUnavailable(*by_ip, "certificate verify failed (IP address mismatch)");
  // The override names a host the certificate does not carry either.
  ChannelOptions options = FastFailOptions();
  options.ssl_target_name_override = "other.example";
  auto overridden = TlsChannel("127.0.0.1:" + std::to_string(ts.port), TrustTestCa(), options);
  ExpectUnavailable(*overridden, "hostname mismatch");
}

TEST_CASE("expired certificate: UNAVAILABLE, certificate has expired") {
  TlsServer ts = StartTlsServer(ServerWith(Certs().expired_cert, Certs().expired_key));
  auto channel = TlsChannel("127.0.0.1:" + std::to_string(ts.port), TrustTestCa());
  ExpectUnavailable(*channel, "certificate verify failed (certificate has expired)");
}

TEST_CASE("mTLS server, client without a certificate: UNAVAILABLE with the server's alert") {
  SslServerCredentialsOptions server = ServerTlsOptions(Certs().server_cert, Certs().server_key);
  server.pem_root_certs = Certs().ca;
  server.client_certificate_request = SslClientCertificateRequest::kRequireAndVerify;
  TlsServer ts = StartTlsServer(SslServerCredentials(server));
  SUBCASE("TLS 1.3") {
    auto channel = TlsChannel("127.0.0.1:" + std::to_string(ts.port), TrustTestCa());
    ExpectUnavailable(*channel, "alert certificate required");
  }
  SUBCASE("TLS 1.2") {
    SslCredentialsOptions options = TrustTestCa();
    options.max_tls_version = TlsVersion::kTls12;
    auto channel = TlsChannel("127.0.0.1:" + std::to_string(ts.port), options);
    ExpectUnavailable(*channel, "alert handshake failure");
  }
  SUBCASE("a client certificate from an untrusted CA") {
    SslCredentialsOptions options = TrustTestCa();
    options.pem_cert_chain = Certs().untrusted_cert;
    options.pem_private_key = Certs().untrusted_key;
    auto channel = TlsChannel("127.0.0.1:" + std::to_string(ts.port), options);
    ExpectUnavailable(*channel, "alert unknown ca");
  }
}

TEST_CASE("plaintext client to a TLS port: UNAVAILABLE, no hang") {
  TlsServer ts = StartTlsServer(ServerWith(Certs().server_cert, Certs().server_key));
  auto channel = CreateChannel("127.0.0.1:" + std::to_string(ts.port), FastFailOptions());
  ExpectUnavailable(*channel, "127.0.0.1:" + std::to_string(ts.port));
}

TEST_CASE("TLS client to a plaintext port: UNAVAILABLE, the TLS handshake failed") {
  TlsServer ts = StartTlsServer(InsecureServerCredentials());
  auto channel = TlsChannel("127.0.0.1:" + std::to_string(ts.port), TrustTestCa());
  ExpectUnavailable(*channel,
                    "TLS handshake with ipv4:127.0.0.1:" + std::to_string(ts.port) + " failed");
}

TEST_CASE("a server that does not select ALPN h2 is refused") {
  NoAlpnTlsServer server;
  auto channel = TlsChannel("127.0.0.1:" + std::to_string(server.listener.port), TrustTestCa());
  ExpectUnavailable(*channel, "TLS peer did not negotiate ALPN h2");
}

TEST_CASE("our server refuses a client that does not offer ALPN h2") {
  TlsServer ts = StartTlsServer(ServerWith(Certs().server_cert, Certs().server_key));
  CHECK_FALSE(RawTlsClientGetsData(ts.port, std::string("\x08http/1.1", 9)));
  CHECK_FALSE(RawTlsClientGetsData(ts.port, ""));
  CHECK(RawTlsClientGetsData(ts.port, std::string("\x02h2", 3)));  // the control
}

TEST_CASE("client handshake timeout: a server that accepts and never speaks") {
  SilentListener silent;
  ChannelOptions options = FastFailOptions();
  options.connect_timeout = std::chrono::milliseconds(500);
  auto channel = TlsChannel("127.0.0.1:" + std::to_string(silent.port), TrustTestCa(), options);
  ExpectUnavailable(*channel, "TLS handshake with ipv4:127.0.0.1:" + std::to_string(silent.port) +
                                  " timed out after 500 ms");
}

TEST_CASE("server handshake timeout: a client that never sends a ClientHello is dropped") {
  TlsServer ts = StartTlsServer(
      ServerWith(Certs().server_cert, Certs().server_key),
      [](ServerBuilder& b) { b.options().handshake_timeout = std::chrono::milliseconds(300); });
  const auto start = Clock::now();
  const int fd = ConnectLoopback(ts.port);
  char byte = 0;
  const ssize_t n = recv(fd, &byte, 1, 0);  // SO_RCVTIMEO bounds it
  close(fd);
  CHECK(n == 0);  // EOF: the server closed it
  CHECK(Clock::now() - start < kBound);
  // The server still serves.
  auto channel = TlsChannel("127.0.0.1:" + std::to_string(ts.port), TrustTestCa());
  const Status s = CallUnary(*channel);
  CHECK_MESSAGE(s.ok(), s.ToString());
}

TEST_CASE("server shutdown with a connection stuck in the TLS handshake") {
  TlsServer ts = StartTlsServer(ServerWith(Certs().server_cert, Certs().server_key));
  const int fd = ConnectLoopback(ts.port);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // accepted, handshaking
  const auto start = Clock::now();
  ts.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  CHECK(Clock::now() - start < kBound);
  char byte = 0;
  CHECK(recv(fd, &byte, 1, 0) == 0);
  close(fd);
}

}  // namespace
}  // namespace h2rpc::testing
