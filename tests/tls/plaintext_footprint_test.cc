// A plaintext program must not carry OpenSSL: nothing on the insecure paths names an OpenSSL
// symbol (transport/tls_context.h), so with a static libh2rpc the linker drops libssl and
// libcrypto (--as-needed) and they are never mapped. This binary is such a program: it serves
// and calls over h2c, then looks at its own mappings.
#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <string>

#include "h2rpc.h"

namespace {

/// The lines of /proc/self/maps that map a file whose name contains `needle`.
std::string MappingsOf(const std::string& needle) {
  std::ifstream maps("/proc/self/maps");
  std::string line, found;
  while (std::getline(maps, line)) {
    if (line.find(needle) != std::string::npos) found += line + "\n";
  }
  return found;
}

}  // namespace

TEST_CASE("a plaintext server and client neither link nor load OpenSSL") {
  int port = 0;
  h2rpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", h2rpc::InsecureServerCredentials(), &port);
  std::unique_ptr<h2rpc::Server> server = builder.BuildAndStart();
  REQUIRE(server != nullptr);
  REQUIRE(port > 0);

  auto channel = h2rpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                      h2rpc::InsecureChannelCredentials());
  h2rpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  std::unique_ptr<h2rpc::ClientCall> call = channel->StartCall(context, "/no.such.Service/Call");
  call->WritesDone();
  const h2rpc::Status status = call->Finish();
  CHECK(status.code() == h2rpc::StatusCode::kUnimplemented);
  server->Shutdown();

  CHECK(MappingsOf("libssl") == "");
  CHECK(MappingsOf("libcrypto") == "");
}
