// helloworld greeter server: serves helloworld.Greeter/SayHello until SIGINT or SIGTERM.
//
//   greeter_server [--listen 127.0.0.1:50051]
//
// Every call runs on its own handler thread, so SayHello needs no locking of its own. The
// server also answers the standard gRPC health checks (grpc.health.v1.Health: Kubernetes
// probes, load balancers): "" and "helloworld.Greeter" are SERVING until shutdown; and server
// reflection (grpc.reflection.v1/v1alpha), so grpcurl, ghz or buf curl can call it without
// the .proto file.

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "h2rpc.h"
#include "helloworld/helloworld.h2rpc.h"
#include "helloworld/helloworld.pb.h"
#include "services/health/health_service.h"
#include "services/reflection/reflection_service.h"

#include "common/example_util.h"

namespace {

class GreeterServiceImpl final : public helloworld::Greeter::Service {
  h2rpc::Status SayHello(h2rpc::ServerContext* /*context*/, const helloworld::HelloRequest* request,
                         helloworld::HelloReply* reply) override {
    reply->set_message("Hello " + request->name());
    return h2rpc::Status::Ok();
  }
};

/// Running calls get this long to finish once a shutdown signal arrives; then they are
/// cancelled.
constexpr std::chrono::seconds kShutdownGrace{2};

}  // namespace

int main(int argc, char** argv) {
  examples::BlockShutdownSignals();
  examples::Flags flags(argc, argv,
                        {{"listen", "127.0.0.1:50051", "address to listen on (port 0: any free)"}});
  const std::string& listen = flags.Get("listen");

  GreeterServiceImpl service;
  h2rpc::HealthService health;
  h2rpc::ReflectionService reflection;
  health.SetServingStatus(helloworld::Greeter::service_full_name(), true);
  int port = 0;
  h2rpc::ServerBuilder builder;
  builder.AddListeningPort(listen, &port);
  builder.RegisterService(&service);
  builder.RegisterService(health.service());
  builder.RegisterService(reflection.service());
  std::unique_ptr<h2rpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "greeter_server: cannot listen on %s: %s\n", listen.c_str(),
                 builder.error().ToString().c_str());
    return 1;
  }
  std::printf("Server listening on %s\n", examples::WithPort(listen, port).c_str());
  std::fflush(stdout);

  int sig = examples::WaitForShutdownSignal();
  std::printf("Received %s, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  std::fflush(stdout);
  health.Shutdown();  // health checkers see NOT_SERVING while calls finish
  server->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  std::printf("Server stopped\n");
  return 0;
}
