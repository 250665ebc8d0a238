// A minimal h2rpc echo server run as a child process by the keepalive tests, so that a test can
// stop it (SIGSTOP) like a hung or partitioned server while its socket stays open.
//
// Usage: keepalive_test_server [port]   (0 or nothing: any free port)
// Prints "PORT <n>" on stdout once it serves, then runs until killed.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "h2rpc.h"

namespace {

h2rpc::Status Echo(h2rpc::ServerContext&, h2rpc::ServerCall& call) {
  std::string message;
  while (call.Read(&message)) {
    if (!call.Write(message)) return h2rpc::Status(h2rpc::StatusCode::kCancelled, "write failed");
  }
  return h2rpc::Status();
}

}  // namespace

int main(int argc, char** argv) {
  const int requested = argc > 1 ? std::atoi(argv[1]) : 0;
  h2rpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(requested), &port);
  builder.RegisterMethod("/test.Echo/Unary", h2rpc::RpcKind::kUnary, Echo);
  builder.RegisterMethod("/test.Echo/Bidi", h2rpc::RpcKind::kBidiStreaming, Echo);
  std::unique_ptr<h2rpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    std::fprintf(stderr, "keepalive_test_server: %s\n", builder.error().ToString().c_str());
    return 1;
  }
  std::printf("PORT %d\n", port);
  std::fflush(stdout);
  for (;;) pause();
}
