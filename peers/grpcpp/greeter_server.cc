// grpcpp-greeter-server: helloworld.Greeter/SayHello on grpc++.
//
//   grpcpp-greeter-server [--listen ADDR]      (default 127.0.0.1:50051)
//
// Replies "Hello " + name. Prints {"impl":"grpcpp","event":"listening","port":N}
// on stdout when serving; SIGTERM/SIGINT shut it down cleanly.

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "common.h"
#include "helloworld/helloworld.grpc.pb.h"

namespace {

class GreeterService final : public helloworld::Greeter::Service {
  grpc::Status SayHello(grpc::ServerContext*, const helloworld::HelloRequest* request,
                        helloworld::HelloReply* reply) override {
    reply->set_message("Hello " + request->name());
    return grpc::Status::OK;
  }
};

}  // namespace

int main(int argc, char** argv) {
  peers::Flags flags({"listen"});
  if (!flags.Parse(argc, argv)) {
    std::fprintf(stderr,
                 "grpcpp-greeter-server: %s\nusage: grpcpp-greeter-server [--listen ADDR]\n",
                 flags.error().c_str());
    return 2;
  }
  const std::string listen = flags.Str("listen", "127.0.0.1:50051");

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  GreeterService service;
  // grpc++'s own health service, so h2rpc's health client meets an independent implementation.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "grpcpp-greeter-server: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  server->GetHealthCheckService()->SetServingStatus("helloworld.Greeter", true);
  std::printf("{\"impl\":\"grpcpp\",\"event\":\"listening\",\"port\":%d}\n", port);
  std::fflush(stdout);

  int sig = 0;
  while (sigwait(&sigs, &sig) != 0) {
  }
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server->Wait();
  return 0;
}
