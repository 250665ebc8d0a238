// h2rpc-tls-cost: what TLS costs next to plaintext, in one process over loopback.
//
//   h2rpc-tls-cost --certs=DIR [--seconds=S] [--calls=N]
//
// DIR holds ca.pem, server.pem and server.key (tests/tls/make_certs.sh DIR makes them; the
// server certificate must name 127.0.0.1). For plaintext and for TLS it measures
//   connections/s: a new Channel, one unary call (which connects and handshakes), Channel gone;
//     over TLS twice: with new credentials per channel (a full handshake each time) and with
//     one credentials object for all (each connection resumes the session of the one before);
//   unary latency: N sequential unary calls (16-byte payload) on one warm channel, p50 / p99.
// The server runs in the same process (its own I/O thread); both sides share the machine.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "h2rpc.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string Flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind(prefix, 0) == 0) return arg.substr(prefix.size());
  }
  return fallback;
}

h2rpc::Status Call(h2rpc::Channel& channel) {
  h2rpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  std::string reply;
  return channel.UnaryCall(context, "/b.T/Echo", "0123456789abcdef", &reply);
}

struct Result {
  double connections_per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
};

using CredentialsFactory = std::function<std::shared_ptr<h2rpc::ChannelCredentials>()>;

/// `fresh`: credentials for each new channel (with them, a fresh TLS session cache).
Result Measure(const std::string& target, const CredentialsFactory& fresh, bool share,
               double seconds, int calls) {
  Result result;
  int connections = 0;
  const auto shared = fresh();
  const auto start = Clock::now();
  const auto until = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < until) {
    auto channel = h2rpc::CreateChannel(target, share ? shared : fresh());
    if (h2rpc::Status s = Call(*channel); !s.ok()) {
      std::fprintf(stderr, "connect+call failed: %s\n", s.ToString().c_str());
      std::exit(1);
    }
    ++connections;
  }
  result.connections_per_second =
      connections / std::chrono::duration<double>(Clock::now() - start).count();

  auto channel = h2rpc::CreateChannel(target, shared);
  for (int i = 0; i < 100; ++i) Call(*channel);  // warm up
  std::vector<double> latencies;
  latencies.reserve(static_cast<size_t>(calls));
  for (int i = 0; i < calls; ++i) {
    const auto t0 = Clock::now();
    if (h2rpc::Status s = Call(*channel); !s.ok()) {
      std::fprintf(stderr, "call failed: %s\n", s.ToString().c_str());
      std::exit(1);
    }
    latencies.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::sort(latencies.begin(), latencies.end());
  result.p50_us = latencies[latencies.size() / 2];
  result.p99_us = latencies[latencies.size() * 99 / 100];
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = Flag(argc, argv, "certs", "");
  const double seconds = std::atof(Flag(argc, argv, "seconds", "3").c_str());
  const int calls = std::atoi(Flag(argc, argv, "calls", "5000").c_str());
  if (dir.empty() || seconds <= 0 || calls <= 0) {
    std::fprintf(stderr, "usage: h2rpc-tls-cost --certs=DIR [--seconds=S] [--calls=N]\n");
    return 2;
  }
  h2rpc::SslServerCredentialsOptions server_tls;
  server_tls.pem_key_cert_pairs.emplace_back();
  h2rpc::SslCredentialsOptions client_tls;
  for (const auto& [file, into] :
       {std::pair{"server.pem", &server_tls.pem_key_cert_pairs[0].cert_chain},
        std::pair{"server.key", &server_tls.pem_key_cert_pairs[0].private_key},
        std::pair{"ca.pem", &client_tls.pem_root_certs}}) {
    if (h2rpc::Status s = h2rpc::ReadPemFile(dir + "/" + file, into); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
  }
  auto echo = [](h2rpc::ServerContext&, h2rpc::ServerCall& call) {
    std::string message;
    while (call.Read(&message)) call.Write(message);
    return h2rpc::Status();
  };
  int plain_port = 0;
  int tls_port = 0;
  h2rpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", &plain_port);
  builder.AddListeningPort("127.0.0.1:0", h2rpc::SslServerCredentials(server_tls), &tls_port);
  builder.RegisterMethod("/b.T/Echo", h2rpc::RpcKind::kUnary, echo);
  auto server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "server: %s\n", builder.error().ToString().c_str());
    return 1;
  }
  const std::string plain_target = "127.0.0.1:" + std::to_string(plain_port);
  const std::string tls_target = "127.0.0.1:" + std::to_string(tls_port);
  const auto tls_credentials = [&client_tls] { return h2rpc::SslCredentials(client_tls); };
  const Result plain =
      Measure(plain_target, h2rpc::InsecureChannelCredentials, true, seconds, calls);
  const Result full = Measure(tls_target, tls_credentials, false, seconds, calls);
  const Result resumed = Measure(tls_target, tls_credentials, true, seconds, calls);
  std::printf("%-12s %14s %10s %10s\n", "transport", "connections/s", "p50 us", "p99 us");
  for (const auto& [name, r] :
       {std::pair{"plaintext", plain}, std::pair{"tls", full}, std::pair{"tls-resumed", resumed}}) {
    std::printf("%-12s %14.0f %10.1f %10.1f\n", name, r.connections_per_second, r.p50_us, r.p99_us);
  }
  server->Shutdown();
  return 0;
}
