// Connectivity from the caller's side: wait-for-ready calls, Channel::GetState,
// WaitForStateChange and WaitForConnected, against a server that is not there yet.
#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "h2rpc.h"
#include "tests/rpc/client_fake_server.h"

namespace {

using namespace h2rpc;
using h2rpc::testing::FakeServer;
using namespace std::chrono_literals;

void InstallEcho(FakeServer& server) {
  server.on_data = [&server](FakeServer::Stream& s) {
    for (std::string& m : server.Locked([&] { return s.TakeMessages(); })) server.SendMessage(s, m);
  };
  server.on_end = [&server](FakeServer::Stream& s) { server.SendStatus(s, 0); };
}

/// A loopback port nobody listens on (for now).
int FreePort() {
  FakeServer probe;
  return probe.port();
}

ChannelOptions FastBackoff() {
  ChannelOptions options;
  options.backoff_initial = 100ms;
  options.backoff_max = 200ms;
  options.backoff_jitter = 0;
  return options;
}

Status Call(Channel& channel, bool wait_for_ready, std::chrono::milliseconds timeout,
            std::string* reply = nullptr, ClientContext* context = nullptr) {
  ClientContext own;
  ClientContext& ctx = context != nullptr ? *context : own;
  ctx.set_wait_for_ready(wait_for_ready);
  ctx.set_timeout(timeout);
  std::string ignored;
  return channel.UnaryCall(ctx, "/test.Echo/Unary", "ping", reply != nullptr ? reply : &ignored);
}

/// An h2rpc echo server on `port`, for the tests where it comes up while the client already
/// tries (a FakeServer's callbacks must be set before any connection arrives).
std::unique_ptr<Server> EchoServerOn(int port) {
  ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port))
      .RegisterMethod("/test.Echo/Unary", RpcKind::kUnary, [](ServerContext&, ServerCall& call) {
        std::string message;
        if (!call.Read(&message)) return Status(StatusCode::kInternal, "no request");
        call.Write(message);
        return Status();
      });
  std::unique_ptr<Server> server = builder.BuildAndStart();
  REQUIRE_MESSAGE(server != nullptr, builder.error().ToString());
  return server;
}

}  // namespace

TEST_CASE("wait_for_ready: the call waits through failed attempts until the server comes") {
  const int port = FreePort();
  auto channel = Channel::Create("127.0.0.1:" + std::to_string(port), FastBackoff());
  auto waiting = std::async(std::launch::async, [&] {
    std::string reply;
    Status s = Call(*channel, true, 10s, &reply);
    return std::make_pair(s, reply);
  });
  // Meanwhile calls without wait-for-ready fail fast, and the channel says why.
  std::this_thread::sleep_for(300ms);
  const auto start = std::chrono::steady_clock::now();
  Status fast = Call(*channel, false, 10s);
  CHECK(fast.code() == StatusCode::kUnavailable);
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  CHECK(channel->GetState(false) == ConnectivityState::kTransientFailure);
  CHECK(waiting.wait_for(0s) == std::future_status::timeout);

  auto server = EchoServerOn(port);
  REQUIRE(waiting.wait_for(5s) == std::future_status::ready);
  auto [status, reply] = waiting.get();
  CHECK_MESSAGE(status.ok(), status.ToString());
  CHECK(reply == "ping");
  CHECK(channel->GetState(false) == ConnectivityState::kReady);
}

TEST_CASE("wait_for_ready: the deadline ends the wait, naming the target and the last failure") {
  const int port = FreePort();
  auto channel = Channel::Create("127.0.0.1:" + std::to_string(port), FastBackoff());
  const auto start = std::chrono::steady_clock::now();
  Status s = Call(*channel, true, 700ms);
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(s.code() == StatusCode::kDeadlineExceeded);
  CHECK_MESSAGE(s.message().find("waiting for a connection to 127.0.0.1:") != std::string::npos,
                s.message());
  CHECK_MESSAGE(s.message().find("last attempt") != std::string::npos, s.message());
  CHECK(took >= 650ms);
  CHECK(took < 3s);
}

TEST_CASE("wait_for_ready: a waiting call can be cancelled") {
  const int port = FreePort();
  auto channel = Channel::Create("127.0.0.1:" + std::to_string(port), FastBackoff());
  ClientContext context;
  auto waiting =
      std::async(std::launch::async, [&] { return Call(*channel, true, 10s, nullptr, &context); });
  std::this_thread::sleep_for(300ms);
  context.TryCancel();
  REQUIRE(waiting.wait_for(3s) == std::future_status::ready);
  CHECK(waiting.get().code() == StatusCode::kCancelled);
}

TEST_CASE("GetState: idle until asked, and try_to_connect connects without a call") {
  FakeServer server;
  InstallEcho(server);
  auto channel = Channel::Create(server.target());
  CHECK(channel->GetState(false) == ConnectivityState::kIdle);
  std::this_thread::sleep_for(100ms);
  CHECK(server.connections_accepted() == 0);
  CHECK(channel->WaitForConnected(std::chrono::system_clock::now() + 5s));
  CHECK(channel->GetState(false) == ConnectivityState::kReady);
  CHECK(server.connections_accepted() == 1);
  CHECK(Call(*channel, false, 5s).ok());
  CHECK(server.connections_accepted() == 1);
}

TEST_CASE("WaitForConnected: false at the deadline with no server, true once one listens") {
  const int port = FreePort();
  auto channel = Channel::Create("127.0.0.1:" + std::to_string(port), FastBackoff());
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(channel->WaitForConnected(std::chrono::system_clock::now() + 500ms));
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= 450ms);
  CHECK(took < 3s);
  CHECK(channel->GetState(false) == ConnectivityState::kTransientFailure);

  // It keeps trying through backoffs on its own while someone waits.
  auto connected = std::async(std::launch::async, [&] {
    return channel->WaitForConnected(std::chrono::system_clock::now() + 10s);
  });
  std::this_thread::sleep_for(400ms);
  auto server = EchoServerOn(port);
  REQUIRE(connected.wait_for(5s) == std::future_status::ready);
  CHECK(connected.get());
  CHECK(Call(*channel, false, 5s).ok());
}

TEST_CASE("WaitForStateChange: wakes on the change, or returns false at the deadline") {
  FakeServer server;
  InstallEcho(server);
  auto channel = Channel::Create(server.target());
  CHECK_FALSE(channel->WaitForStateChange(ConnectivityState::kIdle,
                                          std::chrono::system_clock::now() + 200ms));
  CHECK(channel->GetState(true) == ConnectivityState::kIdle);
  CHECK(
      channel->WaitForStateChange(ConnectivityState::kIdle, std::chrono::system_clock::now() + 5s));
  CHECK(channel->GetState(false) != ConnectivityState::kIdle);
}
