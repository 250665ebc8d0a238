// multiplex client: two stubs of different services over ONE Channel, called in parallel from
// several threads.
//
//   multiplex_client [--target 127.0.0.1:50051] [--threads 4] [--calls 8]
//
// Each thread makes a Greeter stub and an Echo stub on the shared channel and alternates
// SayHello and Echo --calls times, checking every reply. The servers report the connection each
// call arrived on; the client prints how many distinct connections that was (one: every call of
// both services was a stream on the same HTTP/2 connection). Exits 0 if every call succeeded
// with the expected reply.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "echo.h2rpc.h"
#include "echo.pb.h"
#include "h2rpc.h"
#include "helloworld/helloworld.h2rpc.h"
#include "helloworld/helloworld.pb.h"

#include "common/example_util.h"

namespace {

constexpr std::chrono::seconds kCallTimeout{10};

/// What the threads share: the output, the failure count, the peers the server reported.
struct Results {
  std::mutex mu;
  std::set<std::string> peers;  // guarded by mu
  std::atomic<int> failures{0};

  void Fail(int thread, const std::string& what) {
    failures.fetch_add(1);
    std::lock_guard<std::mutex> lock(mu);
    std::fprintf(stderr, "thread %d: %s\n", thread, what.c_str());
  }
  void AddPeer(const std::string& peer) {
    std::lock_guard<std::mutex> lock(mu);
    peers.insert(peer);
  }
};

void Worker(const std::shared_ptr<h2rpc::Channel>& channel, int thread, int calls,
            Results* results) {
  // Two stubs of two services over the one channel; stubs are cheap, so one per thread.
  auto greeter_stub = helloworld::Greeter::NewStub(channel);
  auto echo_stub = echo::Echo::NewStub(channel);
  int greetings = 0;
  int echoes = 0;
  for (int i = 0; i < calls; ++i) {
    const std::string tag = "thread " + std::to_string(thread) + " call " + std::to_string(i);
    {
      h2rpc::ClientContext context;
      context.set_timeout(kCallTimeout);
      helloworld::HelloRequest request;
      request.set_name(tag);
      helloworld::HelloReply reply;
      h2rpc::Status status = greeter_stub->SayHello(&context, request, &reply);
      if (!status.ok()) {
        results->Fail(thread, "SayHello failed: " + status.ToString());
      } else if (reply.message() != "Hello " + tag) {
        results->Fail(thread, "SayHello replied \"" + reply.message() + "\"");
      } else {
        ++greetings;
        auto peer = context.GetServerInitialMetadata().find("x-peer");
        if (peer != context.GetServerInitialMetadata().end()) results->AddPeer(peer->second);
      }
    }
    {
      h2rpc::ClientContext context;
      context.set_timeout(kCallTimeout);
      echo::EchoRequest request;
      request.set_message(tag);
      echo::EchoResponse response;
      h2rpc::Status status = echo_stub->Echo(&context, request, &response);
      if (!status.ok()) {
        results->Fail(thread, "Echo failed: " + status.ToString());
      } else if (response.message() != tag) {
        results->Fail(thread, "Echo replied \"" + response.message() + "\"");
      } else {
        ++echoes;
        results->AddPeer(response.peer());
      }
    }
  }
  std::lock_guard<std::mutex> lock(results->mu);
  std::printf("thread %d: %d greetings, %d echoes\n", thread, greetings, echoes);
}

}  // namespace

int main(int argc, char** argv) {
  examples::Flags flags(argc, argv,
                        {{"target", "127.0.0.1:50051", "server address"},
                         {"threads", "4", "threads sharing the one channel"},
                         {"calls", "8", "SayHello + Echo pairs per thread"}});
  const int threads = static_cast<int>(flags.GetInt("threads", 1, 1000));
  const int calls = static_cast<int>(flags.GetInt("calls", 1, 100000));

  std::shared_ptr<h2rpc::Channel> channel = h2rpc::CreateChannel(flags.Get("target"));
  Results results;
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (int t = 0; t < threads; ++t) workers.emplace_back(Worker, channel, t, calls, &results);
  for (std::thread& w : workers) w.join();

  const int total = 2 * threads * calls;
  std::printf("connections seen by the server: %zu\n", results.peers.size());
  if (results.failures.load() != 0) {
    std::printf("multiplex: %d of %d calls failed\n", results.failures.load(), total);
    return 1;
  }
  std::printf("multiplex: %d calls to 2 services from %d threads over one channel succeeded\n",
              total, threads);
  return 0;
}
