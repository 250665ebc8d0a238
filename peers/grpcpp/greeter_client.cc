// grpcpp-greeter-client: calls helloworld.Greeter/SayHello on grpc++.
//
//   grpcpp-greeter-client [--target ADDR] [--name NAME] [--threads N]
//
// Defaults: 127.0.0.1:50051, "world", 1. Each of the N threads makes one call
// on the shared channel and prints "Greeter received: <reply>". Exit 0 when
// every call succeeded.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common.h"
#include "helloworld/helloworld.grpc.pb.h"

int main(int argc, char** argv) {
  peers::Flags flags({"target", "name", "threads"});
  if (!flags.Parse(argc, argv)) {
    std::fprintf(stderr,
                 "grpcpp-greeter-client: %s\n"
                 "usage: grpcpp-greeter-client [--target ADDR] [--name NAME] [--threads N]\n",
                 flags.error().c_str());
    return 2;
  }
  const std::string target = flags.Str("target", "127.0.0.1:50051");
  const std::string name = flags.Str("name", "world");
  const long long threads = flags.Int("threads", 1);
  if (threads < 1) {
    std::fprintf(stderr, "grpcpp-greeter-client: --threads must be >= 1\n");
    return 2;
  }

  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto stub = helloworld::Greeter::NewStub(channel);
  std::mutex out_mu;
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (long long i = 0; i < threads; ++i) {
    workers.emplace_back([&] {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      ctx.set_wait_for_ready(true);
      helloworld::HelloRequest request;
      request.set_name(name);
      helloworld::HelloReply reply;
      grpc::Status status = stub->SayHello(&ctx, request, &reply);
      std::lock_guard<std::mutex> lock(out_mu);
      if (status.ok()) {
        std::printf("Greeter received: %s\n", reply.message().c_str());
      } else {
        ++failures;
        std::fprintf(stderr, "grpcpp-greeter-client: SayHello failed: status %d \"%s\"\n",
                     static_cast<int>(status.error_code()), status.error_message().c_str());
      }
    });
  }
  for (auto& t : workers) t.join();
  std::fflush(stdout);
  return failures == 0 ? 0 : 1;
}
