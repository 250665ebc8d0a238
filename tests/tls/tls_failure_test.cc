// TLS failure paths (SECURITY.md item 27): each ends UNAVAILABLE with OpenSSL's reason, in
// bounded time, never a hang. Also ALPN enforcement, handshake timeouts on both sides, and a
// connection that ends in good order telling the peer so (close_notify).
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

/// A TLS server (blocking OpenSSL, one connection). By default it ignores ALPN (never selects
/// "h2"); with `speak_h2` it selects h2, sends an empty SETTINGS frame (and with `goaway` a
/// GOAWAY naming no stream) and reads to the end.
struct RawTlsServer {
  SilentListener listener;
  std::thread thread;
  std::unique_ptr<SSL_CTX, CtxFree> ctx{SSL_CTX_new(TLS_server_method())};
  /// SSL_get_error of the read that ended the connection, and OpenSSL's reason if any.
  int end = -1;
  std::string end_reason;

  explicit RawTlsServer(bool speak_h2 = false, bool goaway = false) {
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
    if (speak_h2) SSL_CTX_set_alpn_select_cb(ctx.get(), SelectH2, nullptr);
    thread = std::thread([this, speak_h2, goaway] {
      BlockSigpipeOnThisThread();
      const int fd = accept(listener.fd, nullptr, nullptr);
      if (fd < 0) return;
      timeval tv{30, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
      SSL_set_fd(ssl.get(), fd);
      if (SSL_accept(ssl.get()) == 1) {
        if (speak_h2) SSL_write(ssl.get(), "\0\0\0\x04\0\0\0\0\0", 9);  // SETTINGS
        if (goaway) SSL_write(ssl.get(), "\0\0\x08\x07\0\0\0\0\0\0\0\0\0\0\0\0\0", 17);
        char buf[1024];
        int ret = 0;
        while ((ret = SSL_read(ssl.get(), buf, sizeof(buf))) > 0) {
        }
        end = SSL_get_error(ssl.get(), ret);
        if (const unsigned long e = ERR_peek_last_error()) end_reason = ERR_reason_error_string(e);
      }
      ERR_clear_error();
      close(fd);
    });
  }
  ~RawTlsServer() { Join(); }
  void Join() {
    if (thread.joinable()) thread.join();
  }

  static int SelectH2(SSL*, const unsigned char** out, unsigned char* outlen,
                      const unsigned char* in, unsigned inlen, void*) {
    static const unsigned char kH2[] = {2, 'h', '2'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, kH2, sizeof kH2, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED) {
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
};

/// A blocking OpenSSL client connection to `port` offering `alpn` (wire format; empty: no
/// ALPN); it does not check the server's certificate. Run it with SIGPIPE blocked.
struct RawTlsClient {
  std::unique_ptr<SSL_CTX, CtxFree> ctx{SSL_CTX_new(TLS_client_method())};
  std::unique_ptr<SSL, SslFree> ssl;
  int fd = -1;
  bool connected = false;

  RawTlsClient(int port, const std::string& alpn) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    if (!alpn.empty()) {
      SSL_CTX_set_alpn_protos(ctx.get(), reinterpret_cast<const unsigned char*>(alpn.data()),
                              static_cast<unsigned>(alpn.size()));
    }
    fd = ConnectLoopback(port);
    ssl.reset(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), fd);
    connected = SSL_connect(ssl.get()) == 1;
  }
  ~RawTlsClient() {
    ERR_clear_error();
    ssl.reset();
    close(fd);
  }
  /// The HTTP/2 client preface and an empty SETTINGS frame.
  void SendPreface() {
    const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";
    SSL_write(ssl.get(), preface, sizeof(preface) - 1);
  }
};

/// Whether a raw TLS client offering `alpn` to `port` may exchange application data (reads any
/// before EOF or error).
bool RawTlsClientGetsDataOnThisThread(int port, const std::string& alpn) {
  RawTlsClient client(port, alpn);
  if (!client.connected) return false;
  // TLS 1.3: the client finishes first; our server's verdict arrives with the next read.
  client.SendPreface();
  char buf[256];
  return SSL_read(client.ssl.get(), buf, sizeof(buf)) > 0;  // the server's SETTINGS
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
  RawTlsServer server;
  auto channel = TlsChannel("127.0.0.1:" + std::to_string(server.listener.port), TrustTestCa());
  ExpectUnavailable(*channel, "TLS peer did not negotiate ALPN h2");
}

TEST_CASE("our server refuses a client that does not offer ALPN h2") {
  TlsServer ts = StartTlsServer(ServerWith(Certs().server_cert, Certs().server_key));
  CHECK_FALSE(RawTlsClientGetsData(ts.port, std::string("\x08http/1.1", 9)));
  CHECK_FALSE(RawTlsClientGetsData(ts.port, ""));
  CHECK(RawTlsClientGetsData(ts.port, std::string("\x02h2", 3)));  // the control
}

TEST_CASE("a connection the server ends in good order ends with close_notify, not a bare FIN") {
  // OpenSSL 3 clients that do not opt out (SSL_OP_IGNORE_UNEXPECTED_EOF) fail a read that meets
  // EOF without close_notify ("unexpected eof while reading"), even after a GOAWAY said it was
  // done: a finished connection must not look cut.
  TlsServer ts = StartTlsServer(
      ServerWith(Certs().server_cert, Certs().server_key),
      [](ServerBuilder& b) { b.options().max_connection_idle = std::chrono::milliseconds(100); });
  bool got_frames = false;
  int end = -1;
  std::string reason;
  std::thread reader([&] {
    BlockSigpipeOnThisThread();
    RawTlsClient client(ts.port, std::string("\x02h2", 3));
    if (!client.connected) return;
    client.SendPreface();
    char buf[4096];
    int ret = 0;
    // SETTINGS, the idle GOAWAY and its PING (not answered: the server waits its 1 s bound),
    // the final GOAWAY, then the end of the connection.
    while ((ret = SSL_read(client.ssl.get(), buf, sizeof(buf))) > 0) got_frames = true;
    end = SSL_get_error(client.ssl.get(), ret);
    if (const unsigned long e = ERR_peek_last_error()) reason = ERR_reason_error_string(e);
  });
  reader.join();
  INFO("SSL_get_error " << end << " " << reason);
  CHECK(got_frames);
  CHECK(end == SSL_ERROR_ZERO_RETURN);
}

TEST_CASE("a destroyed channel ends its TLS connection with close_notify") {
  // The server side of the test above: a server must not take a client that is done for one
  // that was cut off.
  RawTlsServer server(/*speak_h2=*/true);
  {
    auto channel = TlsChannel("127.0.0.1:" + std::to_string(server.listener.port), TrustTestCa());
    const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(20);
    ConnectivityState state = channel->GetState(/*try_to_connect=*/true);
    while (state != ConnectivityState::kReady && channel->WaitForStateChange(state, deadline)) {
      state = channel->GetState(false);
    }
    REQUIRE(state == ConnectivityState::kReady);
  }
  server.Join();
  INFO("SSL_get_error " << server.end << " " << server.end_reason);
  CHECK(server.end == SSL_ERROR_ZERO_RETURN);
}

TEST_CASE("a channel ends a TLS connection it drained after a GOAWAY with close_notify") {
  RawTlsServer server(/*speak_h2=*/true, /*goaway=*/true);
  auto channel = TlsChannel("127.0.0.1:" + std::to_string(server.listener.port), TrustTestCa());
  channel->GetState(/*try_to_connect=*/true);
  server.Join();  // the channel closes the connection: no stream to wait for
  INFO("SSL_get_error " << server.end << " " << server.end_reason);
  CHECK(server.end == SSL_ERROR_ZERO_RETURN);
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
