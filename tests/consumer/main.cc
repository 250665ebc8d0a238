// An h2rpc user's program: serves consumer.v1.Greeter, the standard health service
// (h2rpc_health) and server reflection (h2rpc_reflection) on a free loopback port, calls
// Greeter once through the generated stub, Health/Check once as raw bytes, asks reflection for
// the services and the file describing Greeter (raw bytes too), and exits 0 if all is right.
// Built against a protobuf-lite h2rpc (CONSUMER_PROTOBUF_LITE) it has lite messages and no
// reflection, which needs descriptors.
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "greeter.h2rpc.h"
#include "h2rpc.h"
#include "services/health/health_service.h"
#ifndef CONSUMER_PROTOBUF_LITE
#include "services/reflection/reflection_service.h"
#endif

namespace {

class GreeterImpl final : public consumer::v1::Greeter::Service {
 public:
  h2rpc::Status SayHello(h2rpc::ServerContext*, const consumer::v1::HelloRequest* request,
                         consumer::v1::HelloReply* reply) override {
    reply->set_message("Hello " + request->name());
    return {};
  }
};

#ifndef CONSUMER_PROTOBUF_LITE
// Sends each request on one reflection stream; false unless every answer contains its `want`.
bool AskReflection(h2rpc::Channel& channel,
                   const std::vector<std::pair<std::string, std::string>>& requests_and_wants) {
  h2rpc::ClientContext context;
  context.set_timeout(std::chrono::seconds(10));
  auto call =
      channel.StartCall(context, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
  bool all_found = true;
  for (const auto& [request, want] : requests_and_wants) {
    std::string answer;
    if (!call->Write(request) || !call->Read(&answer) || answer.find(want) == std::string::npos) {
      std::cerr << "consumer: reflection answer lacks \"" << want << "\"\n";
      all_found = false;
    }
  }
  call->WritesDone();
  h2rpc::Status status = call->Finish();
  if (!status.ok()) std::cerr << "consumer: reflection stream: " << status << "\n";
  return all_found && status.ok();
}
#endif

}  // namespace

int main() {
  GreeterImpl service;
  h2rpc::HealthService health;
  int port = 0;
  h2rpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", &port)
      .RegisterService(&service)
      .RegisterService(health.service());
#ifndef CONSUMER_PROTOBUF_LITE
  h2rpc::ReflectionService reflection;
  builder.RegisterService(reflection.service());
#endif
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
#ifdef CONSUMER_PROTOBUF_LITE
  const bool reflected = true;
#else
  // ServerReflectionRequest{list_services: ""} is field 7, length 0; file_containing_symbol
  // is field 4. The answers carry the names as plain bytes.
  const std::string symbol = "consumer.v1.Greeter";
  const bool reflected = AskReflection(
      *channel,
      {{std::string("\x3a\x00", 2), symbol},
       {"\x22" + std::string(1, static_cast<char>(symbol.size())) + symbol, "greeter.proto"}});
#endif
  server->Shutdown();

  if (!health_status.ok() || health_reply != std::string("\x08\x01", 2)) {
    std::cerr << "consumer: health check failed: " << health_status << "\n";
    return 1;
  }
  if (!reflected) return 1;
  if (!status.ok() || reply.message() != "Hello consumer") {
    std::cerr << "consumer: call failed: " << status << ", reply '" << reply.message() << "'\n";
    return 1;
  }
  std::cout << "consumer: " << reply.message() << "\n";
  return 0;
}
