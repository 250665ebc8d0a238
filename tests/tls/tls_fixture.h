// Shared by the TLS tests: certificates generated once per run, servers and channels over TLS.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "h2rpc.h"

namespace h2rpc::testing {

/// PEM contents of the files make_certs.sh writes (generated on first use, in a temp dir).
struct TestCerts {
  std::string dir;
  std::string ca, rogue_ca;
  std::string server_cert, server_key;
  std::string wronghost_cert, wronghost_key;
  std::string expired_cert, expired_key;
  std::string untrusted_cert, untrusted_key;
  std::string client_cert, client_key;
};
const TestCerts& Certs();

SslServerCredentialsOptions ServerTlsOptions(const std::string& cert, const std::string& key);

/// Echo on every call kind: /t.E/Unary, /t.E/ClientStream, /t.E/ServerStream, /t.E/Bidi.
/// /t.E/Who answers the client's PeerIdentity as "tls|authenticated|version|subject|uri|dns".
void RegisterTestMethods(ServerBuilder& builder);

struct TlsServer {
  std::unique_ptr<Server> server;
  int port = 0;
};
TlsServer StartTlsServer(const std::shared_ptr<ServerCredentials>& credentials,
                         const std::function<void(ServerBuilder&)>& configure = {});

/// Channel options with a short connect timeout and backoff, for failure tests.
ChannelOptions FastFailOptions();

std::shared_ptr<Channel> TlsChannel(const std::string& target, const SslCredentialsOptions& options,
                                    const ChannelOptions& channel_options = FastFailOptions());

/// One unary call on /t.E/Unary with a deadline of `deadline`; the reply is in `reply`.
Status CallUnary(Channel& channel, std::string* reply = nullptr,
                 std::chrono::milliseconds deadline = std::chrono::milliseconds(20000));

}  // namespace h2rpc::testing
