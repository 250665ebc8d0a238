// helloworld greeter client: the concurrency contract in the smallest program.
//
//   greeter_client [--target 127.0.0.1:50051] [--name world] [--threads 1]
//
// ONE Channel is shared by --threads threads; each makes its own stub (stubs are cheap wrappers
// over the channel) and calls SayHello once. All calls run in parallel as streams of one HTTP/2
// connection. Prints "Greeter received: Hello NAME" per call; exits 0 if every call succeeded,
// 1 (after printing each failing status) otherwise.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "h2rpc.h"
#include "helloworld/helloworld.h2rpc.h"
#include "helloworld/helloworld.pb.h"

#include "common/example_util.h"

namespace {

/// Bound on each call, so that an unreachable server ends the program with DEADLINE_EXCEEDED.
constexpr std::chrono::seconds kCallTimeout{10};

}  // namespace

int main(int argc, char** argv) {
  examples::Flags flags(argc, argv,
                        {{"target", "127.0.0.1:50051", "server address"},
                         {"name", "world", "who to greet"},
                         {"threads", "1", "threads sharing the one channel, one call each"}});
  const std::string& name = flags.Get("name");
  const int threads = static_cast<int>(flags.GetInt("threads", 1, 1000));

  std::shared_ptr<h2rpc::Channel> channel = h2rpc::CreateChannel(flags.Get("target"));

  std::mutex print_mu;  // one whole line at a time
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      auto stub = helloworld::Greeter::NewStub(channel);
      h2rpc::ClientContext context;
      context.set_timeout(kCallTimeout);
      helloworld::HelloRequest request;
      request.set_name(name);
      helloworld::HelloReply reply;
      h2rpc::Status status = stub->SayHello(&context, request, &reply);
      std::lock_guard<std::mutex> lock(print_mu);
      if (status.ok()) {
        std::printf("Greeter received: %s\n", reply.message().c_str());
      } else {
        failures.fetch_add(1);
        std::fprintf(stderr, "RPC failed: %s\n", status.ToString().c_str());
      }
    });
  }
  for (std::thread& w : workers) w.join();
  return failures.load() == 0 ? 0 : 1;
}
