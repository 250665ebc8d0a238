// TLS success paths: every call kind over TLS 1.3 and 1.2, mutual TLS with the client's identity
// visible to the handler, name override, plaintext identity.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tests/tls/tls_fixture.h"

namespace h2rpc::testing {
namespace {

SslCredentialsOptions TrustTestCa() {
  SslCredentialsOptions options;
  options.pem_root_certs = Certs().ca;
  return options;
}

/// The reply of `method` (an identity probe of the fixture), which must succeed.
std::string Probe(Channel& channel, const char* method) {
  ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  std::string reply;
  const Status s = channel.UnaryCall(context, method, "", &reply);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return reply;
}

std::string Who(Channel& channel) { return Probe(channel, "/t.E/Who"); }

/// "resumed" or "new": how the server saw this channel's connection start.
std::string Handshake(Channel& channel) { return Probe(channel, "/t.E/Resumed"); }

void RunEveryCallKind(Channel& channel) {
  std::string reply;
  Status s = CallUnary(channel, &reply);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  CHECK(reply == "ping");

  {  // client streaming: two messages in, their concatenation out
    ClientContext context;
    auto call = channel.StartCall(context, "/t.E/ClientStream");
    CHECK(call->Write("ab"));
    CHECK(call->Write(std::string(100000, 'c')));  // spans several TLS records
    CHECK(call->WritesDone());
    std::string message;
    CHECK(call->Read(&message));
    CHECK(message == "ab" + std::string(100000, 'c'));
    s = call->Finish();
    CHECK_MESSAGE(s.ok(), s.ToString());
  }
  {  // server streaming
    ClientContext context;
    auto call = channel.StartCall(context, "/t.E/ServerStream");
    CHECK(call->Write("m"));
    CHECK(call->WritesDone());
    std::string message;
    for (int i = 0; i < 3; ++i) {
      CHECK(call->Read(&message));
      CHECK(message == "m" + std::to_string(i));
    }
    CHECK_FALSE(call->Read(&message));
    s = call->Finish();
    CHECK_MESSAGE(s.ok(), s.ToString());
  }
  {  // bidi, with a 1 MiB message (big referenced segments go to SSL_write in place)
    ClientContext context;
    auto call = channel.StartCall(context, "/t.E/Bidi");
    const std::string big(1 << 20, 'x');
    for (int i = 0; i < 5; ++i) {
      const std::string out = i == 2 ? big : "n" + std::to_string(i);
      CHECK(call->Write(out));
      std::string in;
      CHECK(call->Read(&in));
      CHECK(in == out);
    }
    CHECK(call->WritesDone());
    std::string none;
    CHECK_FALSE(call->Read(&none));
    s = call->Finish();
    CHECK_MESSAGE(s.ok(), s.ToString());
  }
}

TEST_CASE("TLS 1.3: every call kind, server identity checked against 127.0.0.1") {
  TlsServer ts = StartTlsServer(
      SslServerCredentials(ServerTlsOptions(Certs().server_cert, Certs().server_key)));
  auto channel = TlsChannel("127.0.0.1:" + std::to_string(ts.port), TrustTestCa());
  RunEveryCallKind(*channel);
  CHECK(Who(*channel) == "tls|unauthenticated|TLSv1.3|||");
}

TEST_CASE("TLS 1.2: every call kind, by host name (localhost, SNI)") {
  TlsServer ts = StartTlsServer(
      SslServerCredentials(ServerTlsOptions(Certs().server_cert, Certs().server_key)));
  SslCredentialsOptions options = TrustTestCa();
  options.max_tls_version = TlsVersion::kTls12;
  auto channel = TlsChannel("localhost:" + std::to_string(ts.port), options);
  RunEveryCallKind(*channel);
  CHECK(Who(*channel) == "tls|unauthenticated|TLSv1.2|||");
}

TEST_CASE("mutual TLS: the handler sees the verified client identity") {
  SslServerCredentialsOptions server = ServerTlsOptions(Certs().server_cert, Certs().server_key);
  server.pem_root_certs = Certs().ca;
  server.client_certificate_request = SslClientCertificateRequest::kRequireAndVerify;
  TlsServer ts = StartTlsServer(SslServerCredentials(server));
  for (TlsVersion version : {TlsVersion::kTls12, TlsVersion::kTls13}) {
    SslCredentialsOptions options = TrustTestCa();
    options.pem_cert_chain = Certs().client_cert;
    options.pem_private_key = Certs().client_key;
    options.max_tls_version = version;
    auto channel = TlsChannel("127.0.0.1:" + std::to_string(ts.port), options);
    const std::string expected_version = version == TlsVersion::kTls12 ? "TLSv1.2" : "TLSv1.3";
    CHECK(Who(*channel) == "tls|authenticated|" + expected_version +
                               "|CN=test-client|spiffe://h2rpc.test/client|client.h2rpc.test");
    RunEveryCallKind(*channel);
  }
}

TEST_CASE("ssl_target_name_override: a certificate for another name is accepted by that name") {
  TlsServer ts = StartTlsServer(
      SslServerCredentials(ServerTlsOptions(Certs().wronghost_cert, Certs().wronghost_key)));
  ChannelOptions channel_options = FastFailOptions();
  channel_options.ssl_target_name_override = "wrong.example";
  auto channel = TlsChannel("127.0.0.1:" + std::to_string(ts.port), TrustTestCa(), channel_options);
  std::string reply;
  const Status s = CallUnary(*channel, &reply);
  CHECK_MESSAGE(s.ok(), s.ToString());
}

TEST_CASE("plaintext: insecure credentials on both sides, empty peer identity") {
  TlsServer ts = StartTlsServer(InsecureServerCredentials());
  auto channel =
      CreateChannel("127.0.0.1:" + std::to_string(ts.port), InsecureChannelCredentials());
  CHECK(Who(*channel) == "plain|unauthenticated||||");
}

TEST_CASE("many calls in parallel over one TLS connection") {
  TlsServer ts = StartTlsServer(
      SslServerCredentials(ServerTlsOptions(Certs().server_cert, Certs().server_key)));
  auto channel = TlsChannel("127.0.0.1:" + std::to_string(ts.port), TrustTestCa());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (CallUnary(*channel).ok()) ok.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(ok.load() == 200);
}

TEST_CASE("session resumption: channels sharing credentials resume, mutual TLS identity intact") {
  SslServerCredentialsOptions server = ServerTlsOptions(Certs().server_cert, Certs().server_key);
  server.pem_root_certs = Certs().ca;
  server.client_certificate_request = SslClientCertificateRequest::kRequireAndVerify;
  TlsServer ts = StartTlsServer(SslServerCredentials(server));
  const std::string target = "127.0.0.1:" + std::to_string(ts.port);
  for (TlsVersion version : {TlsVersion::kTls12, TlsVersion::kTls13}) {
    const std::string name = version == TlsVersion::kTls12 ? "TLSv1.2" : "TLSv1.3";
    CAPTURE(name);
    SslCredentialsOptions options = TrustTestCa();
    options.pem_cert_chain = Certs().client_cert;
    options.pem_private_key = Certs().client_key;
    options.max_tls_version = version;
    auto credentials = SslCredentials(options);
    auto first = CreateChannel(target, credentials, FastFailOptions());
    CHECK(Handshake(*first) == "new");
    auto second = CreateChannel(target, credentials, FastFailOptions());
    CHECK(Handshake(*second) == "resumed");
    // What the server verified when the session began still holds on the resumed connection.
    CHECK(Who(*second) == "tls|authenticated|" + name +
                              "|CN=test-client|spiffe://h2rpc.test/client|client.h2rpc.test");
    RunEveryCallKind(*second);
    // Other credentials, another cache: a full handshake.
    CHECK(Handshake(*TlsChannel(target, options)) == "new");
  }
}

TEST_CASE("session resumption: a reconnect of the same channel resumes") {
  // The server ends each connection after 300 ms (graceful GOAWAY), so the channel reconnects.
  TlsServer ts = StartTlsServer(
      SslServerCredentials(ServerTlsOptions(Certs().server_cert, Certs().server_key)),
      [](ServerBuilder& builder) {
        builder.options().max_connection_age = std::chrono::milliseconds(300);
        builder.options().max_connection_age_grace = std::chrono::milliseconds(1000);
      });
  auto channel = TlsChannel("127.0.0.1:" + std::to_string(ts.port), TrustTestCa());
  CHECK(Handshake(*channel) == "new");
  std::string seen;
  for (int i = 0; i < 100 && seen != "resumed"; ++i) {  // ≤ 5 s
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    seen = Handshake(*channel);
  }
  CHECK(seen == "resumed");
}

TEST_CASE("session resumption: a server that forgot the session gets a full handshake") {
  // A restarted server has new ticket keys: the channel's stale ticket is refused, the handshake
  // falls back to a full one, and the calls go on.
  auto credentials =
      SslServerCredentials(ServerTlsOptions(Certs().server_cert, Certs().server_key));
  TlsServer first = StartTlsServer(credentials);
  const int port = first.port;
  auto channel = TlsChannel("127.0.0.1:" + std::to_string(port), TrustTestCa());
  CHECK(Handshake(*channel) == "new");
  first.server->Shutdown();
  first.server.reset();
  ServerBuilder builder;
  int again = 0;
  builder.AddListeningPort(
      "127.0.0.1:" + std::to_string(port),
      SslServerCredentials(ServerTlsOptions(Certs().server_cert, Certs().server_key)), &again);
  RegisterTestMethods(builder);
  auto second = builder.BuildAndStart();
  REQUIRE_MESSAGE(second != nullptr, builder.error().ToString());
  REQUIRE(again == port);
  std::string seen;
  for (int i = 0; i < 100 && seen.empty(); ++i) {  // until the channel has noticed and reconnected
    ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    std::string reply;
    if (channel->UnaryCall(context, "/t.E/Resumed", "", &reply).ok()) seen = reply;
    if (seen.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(seen == "new");
  CHECK(Handshake(*TlsChannel("127.0.0.1:" + std::to_string(port), TrustTestCa())) == "new");
}

TEST_CASE("session resumption: a session is offered only for the name and address it began with") {
  TlsServer ts = StartTlsServer(
      SslServerCredentials(ServerTlsOptions(Certs().server_cert, Certs().server_key)));
  auto credentials = SslCredentials(TrustTestCa());
  const std::string port = std::to_string(ts.port);
  CHECK(Handshake(*CreateChannel("127.0.0.1:" + port, credentials, FastFailOptions())) == "new");
  // Same server, but a different name to verify: the session proves nothing about that name.
  CHECK(Handshake(*CreateChannel("localhost:" + port, credentials, FastFailOptions())) == "new");
  CHECK(Handshake(*CreateChannel("localhost:" + port, credentials, FastFailOptions())) ==
        "resumed");
  CHECK(Handshake(*CreateChannel("127.0.0.1:" + port, credentials, FastFailOptions())) ==
        "resumed");
}

TEST_CASE("bad PEM material is a status, not a crash") {
  auto channel_credentials = SslCredentials(SslCredentialsOptions{"not a pem", "", "", {}, {}});
  CHECK(channel_credentials->status().code() == StatusCode::kInvalidArgument);
  auto channel = CreateChannel("127.0.0.1:1", channel_credentials);
  const Status s = CallUnary(*channel);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("invalid channel credentials") != std::string::npos);

  auto server_credentials = SslServerCredentials(ServerTlsOptions("junk", "junk"));
  CHECK_FALSE(server_credentials->status().ok());
  ServerBuilder builder;
  int port = -1;
  builder.AddListeningPort("127.0.0.1:0", server_credentials, &port);
  CHECK(builder.BuildAndStart() == nullptr);
  CHECK(port == 0);
  CHECK(builder.error().message().find("invalid server credentials") != std::string::npos);
}

}  // namespace
}  // namespace h2rpc::testing
