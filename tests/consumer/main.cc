// An h2rpc user's program: serves consumer.v1.Greeter and the standard health service
// (h2rpc_health) on a free loopback port, calls Greeter once through the generated stub and
// Health/Check once as raw bytes, and exits 0 if both replies are right.
#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "greeter.h2rpc.h"
#include "h2rpc.h"
#include "services/health/health_service.h"

namespace {

class GreeterImpl final : public consumer::v1::Greeter::Service {
 public:
  h2rpc::Status SayHello(h2rpc::ServerContext*, const consumer::v1::HelloRequest* request,
                         consumer::v1::HelloReply* reply) override {
    reply->set_message("Hello " + request->name());
    return {};
  }
};

}  // namespace

int main() {
  GreeterImpl service;
  h2rpc::HealthService health;
  int port = 0;
  h2rpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", &port)
      .RegisterService(&service)
      .RegisterService(health.service());
  std::unique_ptr<h2rpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::cerr << "consumer: server did not start: " << builder.error() << "\n";
    return 1;
  }

  auto channel = h2rpc::CreateChannel("127.0.0.1:" + std::to_string(port));
  auto stub = consumer::v1::Greeter::NewStub(channel);
  h2rpc::ClientContext context;
  context.set_timeout(std::chrono::seconds(10));
  consumer::v1::HelloRequest request;
  request.set_name("consumer");
  consumer::v1::HelloReply reply;
  h2rpc::Status status = stub->SayHello(&context, request, &reply);
  // HealthCheckRequest{service: ""} is the empty message; SERVING is field 1 = 1: 08 01.
  h2rpc::ClientContext health_context;
  health_context.set_timeout(std::chrono::seconds(10));
  std::string health_reply;
  h2rpc::Status health_status =
      channel->UnaryCall(health_context, "/grpc.health.v1.Health/Check", "", &health_reply);
  server->Shutdown();

  if (!health_status.ok() || health_reply != std::string("\x08\x01", 2)) {
    std::cerr << "consumer: health check failed: " << health_status << "\n";
    return 1;
  }
  if (!status.ok() || reply.message() != "Hello consumer") {
    std::cerr << "consumer: call failed: " << status << ", reply '" << reply.message() << "'\n";
    return 1;
  }
  std::cout << "consumer: " << reply.message() << "\n";
  return 0;
}
