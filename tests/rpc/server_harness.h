// Helpers shared by the server tests: start a server on loopback with a few handlers.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "h2rpc.h"
#include "tests/rpc/raw_peer.h"

namespace h2rpc::testing {

struct TestServer {
  std::unique_ptr<Server> server;
  int port = 0;
};

/// Builds and starts a server listening on `address` (loopback, port 0 by default).
inline TestServer StartServer(const std::function<void(ServerBuilder&)>& configure,
                              const std::string& address = "127.0.0.1:0") {
  ServerBuilder builder;
  TestServer ts;
  builder.AddListeningPort(address, &ts.port);
  configure(builder);
  ts.server = builder.BuildAndStart();
  REQUIRE_MESSAGE(ts.server != nullptr, builder.error().ToString());
  REQUIRE(ts.port > 0);
  return ts;
}

/// Reads every request message and writes it back; OK at the end.
inline Status EchoHandler(ServerContext&, ServerCall& call) {
  std::string message;
  while (call.Read(&message)) {
    if (!call.Write(message)) return Status(StatusCode::kCancelled, "write failed");
  }
  return Status();
}

/// Polls `condition` every millisecond until it holds or `timeout` passes.
inline bool Eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return condition();
}

/// Tracks how many handlers run at once.
struct RunningGauge {
  std::atomic<int> now{0};
  std::atomic<int> peak{0};
  std::atomic<int> total{0};
  void Enter() {
    total.fetch_add(1);
    const int n = now.fetch_add(1) + 1;
    int p = peak.load();
    while (n > p && !peak.compare_exchange_weak(p, n)) {
    }
  }
  void Leave() { now.fetch_sub(1); }
};

}  // namespace h2rpc::testing
