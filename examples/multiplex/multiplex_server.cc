// multiplex server: two services (helloworld.Greeter and echo.Echo) on one server and one port.
//
//   multiplex_server [--listen 127.0.0.1:50051]
//
// Both services report the client connection they were reached over (Echo in its reply, Greeter
// in the initial metadata "x-peer"), so the client can see that its two stubs share one.

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "echo.h2rpc.h"
#include "echo.pb.h"
#include "h2rpc.h"
#include "helloworld/helloworld.h2rpc.h"
#include "helloworld/helloworld.pb.h"

#include "common/example_util.h"

namespace {

class GreeterServiceImpl final : public helloworld::Greeter::Service {
  h2rpc::Status SayHello(h2rpc::ServerContext* context, const helloworld::HelloRequest* request,
                         helloworld::HelloReply* reply) override {
    context->AddInitialMetadata("x-peer", context->peer());
    reply->set_message("Hello " + request->name());
    return h2rpc::Status::Ok();
  }
};

class EchoServiceImpl final : public echo::Echo::Service {
  h2rpc::Status Echo(h2rpc::ServerContext* context, const echo::EchoRequest* request,
                     echo::EchoResponse* response) override {
    response->set_message(request->message());
    response->set_peer(context->peer());
    return h2rpc::Status::Ok();
  }
};

constexpr std::chrono::seconds kShutdownGrace{2};

}  // namespace

int main(int argc, char** argv) {
  examples::BlockShutdownSignals();
  examples::Flags flags(argc, argv,
                        {{"listen", "127.0.0.1:50051", "address to listen on (port 0: any free)"}});
  const std::string& listen = flags.Get("listen");

  GreeterServiceImpl greeter;
  EchoServiceImpl echo;
  int port = 0;
  h2rpc::ServerBuilder builder;
  builder.AddListeningPort(listen, &port);
  builder.RegisterService(&greeter);
  builder.RegisterService(&echo);
  std::unique_ptr<h2rpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "multiplex_server: cannot listen on %s: %s\n", listen.c_str(),
                 builder.error().ToString().c_str());
    return 1;
  }
  std::printf("Server listening on %s (helloworld.Greeter, echo.Echo)\n",
              examples::WithPort(listen, port).c_str());
  std::fflush(stdout);

  int sig = examples::WaitForShutdownSignal();
  std::printf("Received %s, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  std::fflush(stdout);
  server->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  std::printf("Server stopped\n");
  return 0;
}
