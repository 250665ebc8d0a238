// Client-driven end-to-end tests: h2rpc Channel against the h2rpc Server over loopback. The
// call kinds, metadata, statuses, deadlines, cancellation, size limits, restarts, and the
// concurrency contract (many threads on one channel; a reader and a writer per stream).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "h2rpc.h"
#include "tests/common/call_kind_checks.h"
#include "tests/common/call_kind_handlers.h"

namespace h2rpc::testing {
namespace {

using namespace std::chrono_literals;

struct Running {
  std::unique_ptr<Server> server;
  int port = 0;
  std::string target() const { return "127.0.0.1:" + std::to_string(port); }
};

Running Serve(const std::function<void(ServerBuilder&)>& configure, int port = 0) {
  ServerBuilder builder;
  Running running;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port), &running.port);
  configure(builder);
  running.server = builder.BuildAndStart();
  REQUIRE_MESSAGE(running.server != nullptr, builder.error().ToString());
  return running;
}

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit = 5000ms) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return done();
}

void RegisterEcho(ServerBuilder& b) {
  b.RegisterMethod("/test.Echo/Unary", RpcKind::kUnary, EchoEach);
  b.RegisterMethod("/test.Echo/Bidi", RpcKind::kBidiStreaming, EchoEach);
}

TEST_CASE("client+server: the four call kinds") {
  auto running = Serve([](ServerBuilder& b) {
    RegisterEcho(b);
    b.RegisterMethod("/test.K/ServerStream", RpcKind::kServerStreaming, RepeatNumbered(5));
    b.RegisterMethod("/test.K/ClientStream", RpcKind::kClientStreaming, Concatenate);
  });
  auto channel = Channel::Create(running.target());
  CheckFourCallKinds(*channel, {"/test.Echo/Unary", "/test.K/ServerStream", "/test.K/ClientStream",
                                "/test.Echo/Bidi"});
}

TEST_CASE("client+server: the four call kinds with either end polling before it sleeps") {
  constexpr std::chrono::microseconds kPoll{200};
  for (const bool server_polls : {false, true}) {
    CAPTURE(server_polls);
    auto running = Serve([&](ServerBuilder& b) {
      b.options().poll_before_sleep = server_polls ? kPoll : std::chrono::microseconds(0);
      RegisterEcho(b);
      b.RegisterMethod("/test.K/ServerStream", RpcKind::kServerStreaming, RepeatNumbered(5));
      b.RegisterMethod("/test.K/ClientStream", RpcKind::kClientStreaming, Concatenate);
    });
    for (const std::chrono::microseconds client_poll : {std::chrono::microseconds(0), kPoll}) {
      CAPTURE(client_poll.count());
      ChannelOptions options;
      options.poll_before_sleep = client_poll;
      auto channel = Channel::Create(running.target(), options);
      CheckFourCallKinds(*channel, {"/test.Echo/Unary", "/test.K/ServerStream",
                                    "/test.K/ClientStream", "/test.Echo/Bidi"});
    }
  }
}

TEST_CASE("client+server: metadata both ways, -bin included") {
  const std::string binary("\x00\x01\x7f\x80\xff", 5);
  auto running = Serve([&](ServerBuilder& b) {
    b.RegisterMethod("/test.M/Unary", RpcKind::kUnary, [&](ServerContext& ctx, ServerCall& call) {
      std::string m;
      call.Read(&m);
      for (const auto& [key, value] : ctx.client_metadata()) {
        ctx.AddInitialMetadata("echo-" + key, value);
        ctx.AddTrailingMetadata("trail-" + key, value);
      }
      call.Write(m);
      return Status();
    });
  });
  auto channel = Channel::Create(running.target());
  ClientContext context;
  context.AddMetadata("x-text", "plain value");
  context.AddMetadata("x-blob-bin", binary);
  context.AddMetadata("x-blob-bin", "second");
  std::string reply;
  REQUIRE(channel->UnaryCall(context, "/test.M/Unary", "q", &reply).ok());
  const Metadata& initial = context.GetServerInitialMetadata();
  CHECK(initial.find("echo-x-text")->second == "plain value");
  auto [first, last] = initial.equal_range("echo-x-blob-bin");
  std::vector<std::string> blobs;
  for (auto it = first; it != last; ++it) blobs.push_back(it->second);
  CHECK(blobs == std::vector<std::string>{binary, "second"});
  const Metadata& trailing = context.GetServerTrailingMetadata();
  CHECK(trailing.find("trail-x-text")->second == "plain value");
  CHECK(trailing.count("trail-x-blob-bin") == 2);
}

TEST_CASE("client+server: every status code with a non-ASCII message") {
  const std::string message = "échec — 失败 100% \"x\"\n";
  auto running = Serve([&](ServerBuilder& b) {
    b.RegisterMethod("/test.S/Fail", RpcKind::kUnary, [&](ServerContext& ctx, ServerCall& call) {
      std::string m;
      call.Read(&m);
      const int code = std::stoi(m);
      ctx.AddTrailingMetadata("x-code", m);
      return Status(static_cast<StatusCode>(code), message + m);
    });
  });
  auto channel = Channel::Create(running.target());
  for (int code = 1; code < kStatusCodeCount; ++code) {
    CAPTURE(code);
    ClientContext context;
    std::string reply;
    Status s = channel->UnaryCall(context, "/test.S/Fail", std::to_string(code), &reply);
    CHECK(s.error_code() == code);
    CHECK(s.message() == message + std::to_string(code));
    CHECK(context.GetServerTrailingMetadata().find("x-code")->second == std::to_string(code));
  }
}

TEST_CASE("client+server: unknown service or method → UNIMPLEMENTED") {
  auto running = Serve(RegisterEcho);
  auto channel = Channel::Create(running.target());
  for (const char* path : {"/no.Such/Service", "/test.Echo/NoSuchMethod"}) {
    CAPTURE(path);
    ClientContext context;
    std::string reply;
    CHECK(channel->UnaryCall(context, path, "x", &reply).code() == StatusCode::kUnimplemented);
    ClientContext streaming;
    auto call = channel->StartCall(streaming, path);
    call->WritesDone();
    CHECK(call->Finish().code() == StatusCode::kUnimplemented);
  }
}

TEST_CASE("client+server: a deadline against a sleeping handler") {
  std::atomic<bool> handler_saw_cancel{false};
  auto running = Serve([&](ServerBuilder& b) {
    b.RegisterMethod("/test.D/Sleep", RpcKind::kUnary, [&](ServerContext& ctx, ServerCall& call) {
      std::string m;
      call.Read(&m);
      for (int i = 0; i < 300 && !ctx.IsCancelled(); ++i) std::this_thread::sleep_for(10ms);
      handler_saw_cancel = ctx.IsCancelled();
      return Status();
    });
  });
  auto channel = Channel::Create(running.target());
  ClientContext context;
  context.set_timeout(100ms);
  const auto start = std::chrono::steady_clock::now();
  std::string reply;
  CHECK(channel->UnaryCall(context, "/test.D/Sleep", "x", &reply).code() ==
        StatusCode::kDeadlineExceeded);
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  CHECK(WaitFor([&] { return handler_saw_cancel.load(); }));
}

TEST_CASE("client+server: cancellation from either side") {
  std::atomic<bool> handler_saw_cancel{false};
  auto running = Serve([&](ServerBuilder& b) {
    b.RegisterMethod("/test.C/Wait", RpcKind::kBidiStreaming,
                     [&](ServerContext& ctx, ServerCall& call) {
                       std::string m;
                       while (call.Read(&m)) call.Write(m);
                       handler_saw_cancel = ctx.IsCancelled();
                       return Status();
                     });
    b.RegisterMethod("/test.C/ServerCancels", RpcKind::kBidiStreaming,
                     [](ServerContext&, ServerCall& call) {
                       std::string m;
                       call.Read(&m);
                       return Status(StatusCode::kCancelled, "handler gave up");
                     });
  });
  auto channel = Channel::Create(running.target());
  SUBCASE("the client cancels") {
    ClientContext context;
    auto call = channel->StartCall(context, "/test.C/Wait");
    std::string m;
    REQUIRE(call->Write("x"));
    REQUIRE(call->Read(&m));
    context.TryCancel();
    CHECK_FALSE(call->Read(&m));
    CHECK(call->Finish().code() == StatusCode::kCancelled);
    CHECK(WaitFor([&] { return handler_saw_cancel.load(); }));
  }
  SUBCASE("the server cancels") {
    ClientContext context;
    auto call = channel->StartCall(context, "/test.C/ServerCancels");
    REQUIRE(call->Write("x"));
    std::string m;
    CHECK_FALSE(call->Read(&m));
    Status s = call->Finish();
    CHECK(s.code() == StatusCode::kCancelled);
    CHECK(s.message() == "handler gave up");
  }
}

TEST_CASE("client+server: 4 MiB messages pass, 4 MiB + 1 is refused, both directions") {
  constexpr size_t kMax = 4 * 1024 * 1024;
  auto running = Serve([](ServerBuilder& b) {
    RegisterEcho(b);
    b.RegisterMethod("/test.Big/Reply", RpcKind::kUnary, [](ServerContext&, ServerCall& call) {
      std::string m;
      call.Read(&m);
      call.Write(std::string(std::stoul(m), 'r'));
      return Status();
    });
  });
  auto channel = Channel::Create(running.target());
  std::string reply;
  {
    ClientContext context;
    CHECK(channel->UnaryCall(context, "/test.Echo/Unary", std::string(kMax, 'q'), &reply).ok());
    CHECK(reply.size() == kMax);
  }
  {
    ClientContext context;  // the server refuses what it may not receive
    CHECK(channel->UnaryCall(context, "/test.Echo/Unary", std::string(kMax + 1, 'q'), &reply)
              .code() == StatusCode::kResourceExhausted);
  }
  {
    ClientContext context;
    CHECK(channel->UnaryCall(context, "/test.Big/Reply", std::to_string(kMax), &reply).ok());
    CHECK(reply.size() == kMax);
  }
  {
    ClientContext context;  // the client refuses what it may not receive
    CHECK(channel->UnaryCall(context, "/test.Big/Reply", std::to_string(kMax + 1), &reply).code() ==
          StatusCode::kResourceExhausted);
  }
  ClientContext context;  // the connection survived all of it
  CHECK(channel->UnaryCall(context, "/test.Echo/Unary", "ok", &reply).ok());
}

TEST_CASE("client+server: large unary calls reusing one response string get exact replies") {
  // Each reply's old buffer goes to the channel's pool and a later large reply is read into it,
  // whether that reply is smaller or larger: no byte of an earlier reply may show through.
  auto running = Serve(RegisterEcho);
  auto channel = Channel::Create(running.target());
  const size_t sizes[] = {1 << 20, 200 * 1024, (3 << 20) + 7, 70 * 1024, 10, 1 << 20};
  std::string reply;
  for (size_t i = 0; i < std::size(sizes); ++i) {
    std::string request(sizes[i], static_cast<char>('a' + i));
    request.back() = '$';
    ClientContext context;
    REQUIRE(channel->UnaryCall(context, "/test.Echo/Unary", request, &reply).ok());
    CHECK(reply == request);
  }
}

TEST_CASE("client+server: the server stops and restarts under a live Channel") {
  auto running = Serve(RegisterEcho);
  const int port = running.port;
  ChannelOptions options;
  options.backoff_initial = 50ms;
  options.backoff_max = 100ms;
  auto channel = Channel::Create(running.target(), options);
  std::string reply;
  {
    ClientContext context;
    REQUIRE(channel->UnaryCall(context, "/test.Echo/Unary", "before", &reply).ok());
  }
  running.server->Shutdown();
  running.server.reset();
  {
    ClientContext context;
    CHECK(channel->UnaryCall(context, "/test.Echo/Unary", "down", &reply).code() ==
          StatusCode::kUnavailable);
  }
  auto restarted = Serve(RegisterEcho, port);
  // The first call after the backoff reconnects; calls during it fail fast.
  CHECK(WaitFor(
      [&] {
        ClientContext context;
        return channel->UnaryCall(context, "/test.Echo/Unary", "after", &reply).ok();
      },
      3000ms));
  CHECK(reply == "after");
}

TEST_CASE("client+server: 64 threads × 500 unary calls over one Channel") {
  auto running = Serve(RegisterEcho);
  auto channel = Channel::Create(running.target());
  constexpr int kThreads = 64;
  constexpr int kCalls = 500;
  std::atomic<int> ok{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string reply;
      for (int i = 0; i < kCalls; ++i) {
        ClientContext context;
        const std::string request = std::to_string(t) + "/" + std::to_string(i);
        Status s = channel->UnaryCall(context, "/test.Echo/Unary", request, &reply);
        if (s.ok() && reply == request) {
          ok.fetch_add(1);
        } else {
          if (wrong.fetch_add(1) < 5) MESSAGE(s.ToString());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == kThreads * kCalls);
  CHECK(wrong == 0);
}

TEST_CASE("client+server: 16 bidi streams, a reader and a writer thread each, 10,000 messages") {
  auto running = Serve(RegisterEcho);
  auto channel = Channel::Create(running.target());
  constexpr int kStreams = 16;
  constexpr int kMessages = 10000;
  std::atomic<int> streams_ok{0};
  std::vector<std::thread> drivers;
  for (int s = 0; s < kStreams; ++s) {
    drivers.emplace_back([&, s] {
      ClientContext context;
      auto call = channel->StartCall(context, "/test.Echo/Bidi");
      std::atomic<bool> writer_ok{true};
      std::thread writer([&] {
        for (int i = 0; i < kMessages; ++i) {
          if (!call->Write(std::to_string(s) + ":" + std::to_string(i))) {
            writer_ok = false;
            return;
          }
        }
        call->WritesDone();
      });
      bool in_order = true;
      int received = 0;
      std::thread reader([&] {
        std::string m;
        while (call->Read(&m)) {
          if (m != std::to_string(s) + ":" + std::to_string(received)) in_order = false;
          ++received;
        }
      });
      writer.join();
      reader.join();
      Status status = call->Finish();
      if (writer_ok && in_order && received == kMessages && status.ok()) {
        streams_ok.fetch_add(1);
      } else {
        MESSAGE("stream " << s << ": received " << received << ", in order " << in_order << ", "
                          << status.ToString());
      }
    });
  }
  for (auto& d : drivers) d.join();
  CHECK(streams_ok == kStreams);
}

TEST_CASE("client+server: a handler blocked for 2 s delays none of 100 other calls") {
  std::atomic<bool> release{false};
  auto running = Serve([&](ServerBuilder& b) {
    RegisterEcho(b);
    b.RegisterMethod("/test.B/Block", RpcKind::kUnary, [&](ServerContext&, ServerCall& call) {
      std::string m;
      call.Read(&m);
      for (int i = 0; i < 200 && !release; ++i) std::this_thread::sleep_for(10ms);
      call.Write(m);
      return Status();
    });
  });
  auto channel = Channel::Create(running.target());
  std::atomic<bool> blocked_done{false};
  std::thread blocked([&] {
    ClientContext context;
    std::string reply;
    CHECK(channel->UnaryCall(context, "/test.B/Block", "slow", &reply).ok());
    blocked_done = true;
  });
  std::this_thread::sleep_for(50ms);  // the blocking handler is running
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> others;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    others.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        ClientContext context;
        std::string reply;
        if (channel->UnaryCall(context, "/test.Echo/Unary", "fast", &reply).ok()) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : others) t.join();
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(ok == 100);
  CHECK_FALSE(blocked_done.load());  // the 100 finished while the slow one still ran
  CHECK(took < 1500ms);
  release = true;
  blocked.join();
}

TEST_CASE("client+server: a slow reader on a fast server stream keeps memory bounded") {
  std::atomic<size_t> written{0};
  std::atomic<bool> writer_done{false};
  const std::string chunk(32 * 1024, 'z');
  constexpr int kMessages = 1024;  // 32 MiB
  auto running = Serve([&](ServerBuilder& b) {
    b.RegisterMethod("/test.F/Flood", RpcKind::kServerStreaming,
                     [&](ServerContext&, ServerCall& call) {
                       std::string m;
                       call.Read(&m);
                       for (int i = 0; i < kMessages; ++i) {
                         if (!call.Write(chunk))
                           return Status(StatusCode::kCancelled, "write failed");
                         written.fetch_add(chunk.size() + 5);
                       }
                       writer_done = true;
                       return Status();
                     });
  });
  ChannelOptions options;
  auto channel = Channel::Create(running.target(), options);
  ClientContext context;
  auto call = channel->StartCall(context, "/test.F/Flood");
  REQUIRE(call->Write("go"));
  REQUIRE(call->WritesDone());
  // Not reading: the handler's Write must block once our window (plus the part we let through
  // before the reader fell behind) and its own send budget are full.
  REQUIRE(WaitFor([&] { return written.load() >= options.stream_window; }, 10s));
  std::this_thread::sleep_for(300ms);
  const size_t stalled_at = written.load();
  const size_t bound = options.stream_window + options.stream_window / 2 +
                       ServerOptions().stream_send_budget + 1024 * 1024 /* transport buffers */;
  CHECK(stalled_at <= bound);
  CHECK_FALSE(writer_done.load());
  std::string m;
  int received = 0;
  while (call->Read(&m)) ++received;
  CHECK(received == kMessages);
  CHECK(call->Finish().ok());
}

TEST_CASE("client+server: 1000 concurrent calls against a server limit of 100") {
  std::atomic<int> running_now{0};
  std::atomic<int> peak{0};
  auto running = Serve([&](ServerBuilder& b) {
    b.SetMaxConcurrentCalls(100);
    b.RegisterMethod("/test.N/Unary", RpcKind::kUnary, [&](ServerContext&, ServerCall& call) {
      const int now = running_now.fetch_add(1) + 1;
      int p = peak.load();
      while (now > p && !peak.compare_exchange_weak(p, now)) {
      }
      std::string m;
      call.Read(&m);
      std::this_thread::sleep_for(1ms);
      call.Write(m);
      running_now.fetch_sub(1);
      return Status();
    });
  });
  auto channel = Channel::Create(running.target());
  constexpr int kCalls = 1000;
  std::vector<std::unique_ptr<ClientContext>> contexts;
  std::vector<std::unique_ptr<ClientCall>> calls;
  for (int i = 0; i < kCalls; ++i) {
    contexts.push_back(std::make_unique<ClientContext>());
    calls.push_back(channel->StartCall(*contexts.back(), "/test.N/Unary"));
    calls.back()->Write(std::to_string(i));
    calls.back()->WritesDone();
  }
  int ok = 0;
  for (int i = 0; i < kCalls; ++i) {
    std::string m;
    const bool got = calls[i]->Read(&m);
    Status s = calls[i]->Finish();
    if (got && m == std::to_string(i) && s.ok()) {
      ++ok;
    } else if (ok + 5 > i) {
      MESSAGE(s.ToString());
    }
  }
  CHECK(ok == kCalls);
  CHECK(peak.load() <= 100);
}

}  // namespace
}  // namespace h2rpc::testing
