// An h2rpc user's program: serves consumer.v1.Greeter on a free loopback port, calls it once
// through the generated stub, and exits 0 if the reply is right.
#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "greeter.h2rpc.h"
#include "h2rpc.h"

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
  int port = 0;
  h2rpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", &port).RegisterService(&service);
  std::unique_ptr<h2rpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::cerr << "consumer: server did not start: " << builder.error() << "\n";
    return 1;
  }

  auto stub =
      consumer::v1::Greeter::NewStub(h2rpc::CreateChannel("127.0.0.1:" + std::to_string(port)));
  h2rpc::ClientContext context;
  context.set_timeout(std::chrono::seconds(10));
  consumer::v1::HelloRequest request;
  request.set_name("consumer");
  consumer::v1::HelloReply reply;
  h2rpc::Status status = stub->SayHello(&context, request, &reply);
  server->Shutdown();

  if (!status.ok() || reply.message() != "Hello consumer") {
    std::cerr << "consumer: call failed: " << status << ", reply '" << reply.message() << "'\n";
    return 1;
  }
  std::cout << "consumer: " << reply.message() << "\n";
  return 0;
}
