#include "tests/tls/tls_fixture.h"

#include <stdlib.h>

#include <cstdlib>

#include "tests/common/call_kind_handlers.h"

namespace h2rpc::testing {

namespace {

std::string Read(const std::string& dir, const std::string& name) {
  std::string contents;
  const Status s = ReadPemFile(dir + "/" + name, &contents);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return contents;
}

TestCerts Generate() {
  char templ[] = "/tmp/h2rpc-tls-XXXXXX";
  const char* dir = mkdtemp(templ);
  REQUIRE(dir != nullptr);
  TestCerts c;
  c.dir = dir;
  const std::string command = std::string("sh ") + H2RPC_TLS_MAKE_CERTS + " " + c.dir;
  REQUIRE_MESSAGE(std::system(command.c_str()) == 0, "make_certs.sh failed (openssl CLI?)");
  c.ca = Read(c.dir, "ca.pem");
  c.rogue_ca = Read(c.dir, "rogue_ca.pem");
  c.server_cert = Read(c.dir, "server.pem");
  c.server_key = Read(c.dir, "server.key");
  c.wronghost_cert = Read(c.dir, "wronghost.pem");
  c.wronghost_key = Read(c.dir, "wronghost.key");
  c.expired_cert = Read(c.dir, "expired.pem");
  c.expired_key = Read(c.dir, "expired.key");
  c.untrusted_cert = Read(c.dir, "untrusted.pem");
  c.untrusted_key = Read(c.dir, "untrusted.key");
  c.client_cert = Read(c.dir, "client.pem");
  c.client_key = Read(c.dir, "client.key");
  std::system(("rm -rf " + c.dir).c_str());
  return c;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

}  // namespace

const TestCerts& Certs() {
  static const TestCerts certs = Generate();
  return certs;
}

SslServerCredentialsOptions ServerTlsOptions(const std::string& cert, const std::string& key) {
  SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({key, cert});
  return options;
}

void RegisterTestMethods(ServerBuilder& builder) {
  builder.RegisterMethod("/t.E/Unary", RpcKind::kUnary, EchoEach);
  builder.RegisterMethod("/t.E/ClientStream", RpcKind::kClientStreaming, Concatenate);
  builder.RegisterMethod("/t.E/ServerStream", RpcKind::kServerStreaming, RepeatNumbered(3));
  builder.RegisterMethod("/t.E/Bidi", RpcKind::kBidiStreaming, EchoEach);
  builder.RegisterMethod("/t.E/Who", RpcKind::kUnary, [](ServerContext& context, ServerCall& call) {
    std::string ignored;
    call.Read(&ignored);
    const PeerIdentity& who = context.peer_identity();
    call.Write(std::string(who.tls ? "tls" : "plain") + "|" +
               (who.authenticated ? "authenticated" : "unauthenticated") + "|" + who.tls_version +
               "|" + who.subject + "|" + Join(who.uri_sans) + "|" + Join(who.dns_sans));
    return Status();
  });
  builder.RegisterMethod("/t.E/Resumed", RpcKind::kUnary,
                         [](ServerContext& context, ServerCall& call) {
                           std::string ignored;
                           call.Read(&ignored);
                           call.Write(context.peer_identity().session_reused ? "resumed" : "new");
                           return Status();
                         });
}

TlsServer StartTlsServer(const std::shared_ptr<ServerCredentials>& credentials,
                         const std::function<void(ServerBuilder&)>& configure) {
  ServerBuilder builder;
  TlsServer ts;
  builder.AddListeningPort("127.0.0.1:0", credentials, &ts.port);
  RegisterTestMethods(builder);
  if (configure) configure(builder);
  ts.server = builder.BuildAndStart();
  REQUIRE_MESSAGE(ts.server != nullptr, builder.error().ToString());
  REQUIRE(ts.port > 0);
  return ts;
}

ChannelOptions FastFailOptions() {
  ChannelOptions options;
  options.connect_timeout = std::chrono::milliseconds(10000);
  options.backoff_initial = std::chrono::milliseconds(50);
  options.backoff_max = std::chrono::milliseconds(100);
  return options;
}

std::shared_ptr<Channel> TlsChannel(const std::string& target, const SslCredentialsOptions& options,
                                    const ChannelOptions& channel_options) {
  auto credentials = SslCredentials(options);
  REQUIRE_MESSAGE(credentials->status().ok(), credentials->status().ToString());
  return CreateChannel(target, credentials, channel_options);
}

Status CallUnary(Channel& channel, std::string* reply, std::chrono::milliseconds deadline) {
  ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  std::string response;
  Status s = channel.UnaryCall(context, "/t.E/Unary", "ping", &response);
  if (reply != nullptr) *reply = response;
  return s;
}

}  // namespace h2rpc::testing
