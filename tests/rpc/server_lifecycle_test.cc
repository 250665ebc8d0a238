// Server call lifecycle: deadlines, cancellation, the running-handler cap, blocking handlers,
// dead connections, shutdown, listening addresses and builder errors.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/rpc/server_harness.h"

namespace h2rpc::testing {
namespace {

using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

/// A bidi handler that reads until the call ends and records how it ended.
struct BlockingReader {
  std::atomic<int> started{0};
  std::atomic<int> finished{0};
  std::atomic<int> saw_cancelled{0};
  std::atomic<int> write_after_cancel_ok{0};
  GenericHandler Handler() {
    return [this](ServerContext& ctx, ServerCall& call) {
      started.fetch_add(1);
      std::string m;
      while (call.Read(&m)) {
      }
      if (ctx.IsCancelled()) saw_cancelled.fetch_add(1);
      if (call.Write("too late")) write_after_cancel_ok.fetch_add(1);
      finished.fetch_add(1);
      return Status();
    };
  }
};

TEST_CASE(
    "server: deadline passing mid-call → DEADLINE_EXCEEDED trailers then RST_STREAM(NO_ERROR), "
    "IsCancelled, Read/Write false") {
  BlockingReader reader;
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterMethod("/t.L/Block", RpcKind::kBidiStreaming, reader.Handler());
  });
  RawPeer peer(ts.port);
  const int32_t id = peer.NextStreamId();
  const auto start = Clock::now();
  peer.SendHeaders(id, GrpcRequest("/t.L/Block", {{"grpc-timeout", "200m"}}), false);
  REQUIRE(peer.RunUntil([&] { return peer.stream(id).reset; }, std::chrono::seconds(5)));
  CHECK(MsSince(start) >= 190);
  CHECK(MsSince(start) < 2000);
  // As grpc++ answers: Trailers-Only with the status, then, since we never half-closed, a
  // reset without error to stop our sending.
  CHECK(peer.stream(id).trailers_only());
  CHECK(peer.stream(id).GrpcStatus().code() == StatusCode::kDeadlineExceeded);
  CHECK(peer.stream(id).rst_code == 0x0);  // NO_ERROR
  REQUIRE(Eventually([&] { return reader.finished.load() == 1; }));
  CHECK(reader.saw_cancelled.load() == 1);
  CHECK(reader.write_after_cancel_ok.load() == 0);
  // Nothing follows, and the connection serves on.
  peer.RunUntil([] { return false; }, std::chrono::milliseconds(100));
  CHECK(peer.stream(id).header_blocks.size() == 1);
  CHECK(peer.stream(id).data.empty());
  CHECK_FALSE(peer.closed());
}

TEST_CASE(
    "server: deadline passing before a unary request completes → DEADLINE_EXCEEDED, no handler") {
  std::atomic<int> runs{0};
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterMethod("/t.L/Unary", RpcKind::kUnary, [&](ServerContext& c, ServerCall& call) {
      runs.fetch_add(1);
      return EchoHandler(c, call);
    });
  });
  RawPeer peer(ts.port);
  const int32_t id = peer.NextStreamId();
  peer.SendHeaders(id, GrpcRequest("/t.L/Unary", {{"grpc-timeout", "100m"}}), false);
  peer.SendData(id, GrpcFrame("half"), false);  // never half-closes
  REQUIRE(peer.WaitStream(id));
  CHECK(peer.stream(id).GrpcStatus().code() == StatusCode::kDeadlineExceeded);
  CHECK(runs.load() == 0);
}

TEST_CASE("server: client RST_STREAM → the handler sees IsCancelled; its late status is dropped") {
  std::atomic<bool> saw_cancel{false};
  std::atomic<bool> done{false};
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterMethod("/t.L/Poll", RpcKind::kUnary, [&](ServerContext& ctx, ServerCall& call) {
      std::string m;
      call.Read(&m);
      const auto until = Clock::now() + std::chrono::seconds(5);
      while (!ctx.IsCancelled() && Clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      saw_cancel = ctx.IsCancelled();
      call.Write("ignored");
      done = true;
      return Status(StatusCode::kInternal, "must not be sent");
    });
  });
  RawPeer peer(ts.port);
  const int32_t id = peer.NextStreamId();
  peer.SendUnary(id, "/t.L/Poll", "x");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  peer.SendRst(id, 0x8);
  REQUIRE(Eventually([&] { return done.load(); }));
  CHECK(saw_cancel.load());
  peer.RunUntil([] { return false; }, std::chrono::milliseconds(100));
  CHECK(peer.stream(id).header_blocks.empty());
  CHECK(peer.Unary("/t.L/Poll", "x", {{"grpc-timeout", "50m"}}).GrpcStatus().code() ==
        StatusCode::kDeadlineExceeded);
}

TEST_CASE("server: a dying connection cancels every call on it") {
  BlockingReader reader;
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterMethod("/t.L/Block", RpcKind::kBidiStreaming, reader.Handler());
  });
  {
    RawPeer peer(ts.port);
    for (int i = 0; i < 3; ++i) {
      peer.SendHeaders(peer.NextStreamId(), GrpcRequest("/t.L/Block"), false);
    }
    REQUIRE(Eventually([&] { return reader.started.load() == 3; }));
  }  // socket closed
  REQUIRE(Eventually([&] { return reader.finished.load() == 3; }));
  CHECK(reader.saw_cancelled.load() == 3);
}

TEST_CASE("server: max concurrent calls — beyond-limit streams refused, accepted ones complete") {
  std::atomic<bool> release{false};
  RunningGauge gauge;
  auto ts = StartServer([&](ServerBuilder& b) {
    b.SetMaxConcurrentCalls(4);
    b.RegisterMethod("/t.L/Hold", RpcKind::kUnary, [&](ServerContext&, ServerCall& call) {
      gauge.Enter();
      std::string m;
      call.Read(&m);
      while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      call.Write(m);
      gauge.Leave();
      return Status();
    });
  });
  RawPeer a(ts.port);
  RawPeer b(ts.port);
  CHECK(a.server_settings().at(0x3) == 4);  // advertised = the handler cap
  std::vector<int32_t> accepted;
  for (int i = 0; i < 3; ++i) {
    accepted.push_back(a.NextStreamId());
    a.SendUnary(accepted.back(), "/t.L/Hold", "a" + std::to_string(i));
  }
  const int32_t b1 = b.NextStreamId();
  b.SendUnary(b1, "/t.L/Hold", "b");
  REQUIRE(Eventually([&] { return gauge.now.load() == 4; }));
  // Across connections the cap is reached: a 5th call is refused...
  const int32_t a4 = a.NextStreamId();
  a.SendUnary(a4, "/t.L/Hold", "refused");
  REQUIRE(a.WaitStream(a4));
  CHECK(a.stream(a4).reset);
  CHECK(a.stream(a4).rst_code == 0x7);  // REFUSED_STREAM
  // ... and on one connection, a stream beyond the advertised limit too (no GOAWAY).
  const int32_t b2 = b.NextStreamId();
  b.SendUnary(b2, "/t.L/Hold", "refused");
  REQUIRE(b.WaitStream(b2));
  CHECK(b.stream(b2).rst_code == 0x7);
  CHECK(gauge.peak.load() == 4);
  release = true;
  for (int32_t id : accepted) {
    REQUIRE(a.WaitStream(id));
    CHECK(a.stream(id).GrpcStatus().ok());
  }
  REQUIRE(b.WaitStream(b1));
  CHECK(b.stream(b1).Messages() == std::vector<std::string>{"b"});
  CHECK_FALSE(a.goaway_received());
  CHECK_FALSE(b.goaway_received());
  CHECK(gauge.peak.load() == 4);
  // Slots are free again.
  CHECK(a.Unary("/t.L/Hold", "again").GrpcStatus().ok());
}

TEST_CASE("server: one connection opening streams beyond the advertised limit gets them refused") {
  std::atomic<bool> release{false};
  auto ts = StartServer([&](ServerBuilder& b) {
    b.SetMaxConcurrentCalls(2);
    b.RegisterMethod("/t.L/Hold", RpcKind::kBidiStreaming, [&](ServerContext&, ServerCall&) {
      while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return Status();
    });
  });
  RawPeer peer(ts.port);
  std::vector<int32_t> ids;
  for (int i = 0; i < 10; ++i) {
    ids.push_back(peer.NextStreamId());
    peer.SendHeaders(ids.back(), GrpcRequest("/t.L/Hold"), false);
  }
  REQUIRE(peer.RunUntil([&] {
    for (size_t i = 2; i < ids.size(); ++i) {
      if (!peer.stream(ids[i]).reset) return false;
    }
    return true;
  }));
  for (size_t i = 2; i < ids.size(); ++i) CHECK(peer.stream(ids[i]).rst_code == 0x7);
  release = true;
  for (size_t i = 0; i < 2; ++i) {
    peer.SendData(ids[i], "", true);
    REQUIRE(peer.WaitStream(ids[i]));
    CHECK(peer.stream(ids[i]).GrpcStatus().ok());
  }
  CHECK_FALSE(peer.goaway_received());
}

TEST_CASE("server: a handler blocking 2 s does not delay 100 other calls") {
  std::atomic<bool> slow_running{false};
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterMethod("/t.L/Slow", RpcKind::kUnary, [&](ServerContext&, ServerCall& call) {
      slow_running = true;
      std::this_thread::sleep_for(std::chrono::seconds(2));
      std::string m;
      call.Read(&m);
      call.Write(m);
      return Status();
    });
    b.RegisterMethod("/t.L/Fast", RpcKind::kUnary, EchoHandler);
  });
  RawPeer peer(ts.port);
  RawPeer other(ts.port);
  const int32_t slow = peer.NextStreamId();
  peer.SendUnary(slow, "/t.L/Slow", "slow");
  REQUIRE(Eventually([&] { return slow_running.load(); }));
  const auto start = Clock::now();
  std::vector<int32_t> ids;
  for (int i = 0; i < 50; ++i) {
    ids.push_back(peer.NextStreamId());
    peer.SendUnary(ids.back(), "/t.L/Fast", "f" + std::to_string(i));
  }
  for (int i = 0; i < 50; ++i) {
    StreamResult r = other.Unary("/t.L/Fast", "g");  // one after another on a second connection
    CHECK(r.GrpcStatus().ok());
  }
  REQUIRE(peer.RunUntil([&] {
    for (int32_t id : ids) {
      if (!peer.stream(id).done()) return false;
    }
    return true;
  }));
  const int64_t elapsed = MsSince(start);
  CHECK(elapsed < 1000);
  CHECK_FALSE(peer.stream(slow).done());
  for (int32_t id : ids) CHECK(peer.stream(id).GrpcStatus().ok());
  REQUIRE(peer.WaitStream(slow));
  CHECK(peer.stream(slow).Messages() == std::vector<std::string>{"slow"});
}

TEST_CASE("server: Shutdown lets running calls finish before the deadline") {
  std::atomic<bool> started{false};
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterMethod("/t.L/Work", RpcKind::kUnary, [&](ServerContext& ctx, ServerCall& call) {
      started = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      return EchoHandler(ctx, call);
    });
  });
  RawPeer peer(ts.port);
  const int32_t id = peer.NextStreamId();
  peer.SendUnary(id, "/t.L/Work", "done");
  REQUIRE(Eventually([&] { return started.load(); }));
  std::atomic<bool> waited{false};
  std::thread waiter([&] {
    ts.server->Wait();
    waited = true;
  });
  const auto start = Clock::now();
  std::thread shutdown(
      [&] { ts.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5)); });
  REQUIRE(peer.WaitStream(id));
  CHECK(peer.stream(id).GrpcStatus().ok());
  CHECK(peer.stream(id).Messages() == std::vector<std::string>{"done"});
  peer.RunUntil([&] { return peer.goaways().size() >= 2 || peer.closed(); });
  shutdown.join();
  waiter.join();
  CHECK(waited.load());
  CHECK(MsSince(start) < 4000);
  REQUIRE(peer.goaways().size() >= 2);
  CHECK(peer.goaways().front().first == 0x7fffffff);  // the shutdown notice
  CHECK(peer.goaways().back().first == id);           // the final GOAWAY: last stream processed
  CHECK(peer.goaways().back().second == 0);           // NO_ERROR
}

TEST_CASE(
    "server: Shutdown — streams the client writes up to its second PING ACK are processed and "
    "named by the final GOAWAY; one after that GOAWAY is not processed") {
  // gRPC's C core takes a stream id when a call starts and may write the HEADERS after it ACKed
  // the notice's PING. The server PINGs once more at that ACK and sends the final GOAWAY after
  // the second ACK: a GOAWAY naming an earlier stream would have the client retry (or fail)
  // calls it had sent in time, and with the HEADERS read in the same buffer as an ACK, retry a
  // call the server ran.
  std::atomic<int> calls{0};
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterMethod("/t.L/Work", RpcKind::kUnary, [&](ServerContext& ctx, ServerCall& call) {
      calls.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      return EchoHandler(ctx, call);
    });
  });
  RawPeer peer(ts.port);
  peer.set_auto_ack(false);
  std::thread shutdown(
      [&] { ts.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5)); });
  // The notice and its PING. Read no further than needed: without ACKs the final GOAWAY
  // comes after a second.
  const auto next_ping = [&](bool* goaway) {
    std::optional<Frame> ping;
    while (!ping) {
      const std::optional<Frame> f = peer.ReadFrame(3000ms);
      if (!f) break;
      if (f->type == kGoaway && goaway != nullptr) *goaway = true;
      if (f->type == kPing && (f->flags & kAck) == 0) ping = f;
    }
    return ping;
  };
  bool notice = false;
  const std::optional<Frame> ping = next_ping(&notice);
  REQUIRE(ping.has_value());
  if (!notice) REQUIRE(peer.ReadFrame(3000ms).value_or(Frame{}).type == kGoaway);
  // A stream in the same write as the first ACK, and one written after it.
  const int32_t with_ack = peer.NextStreamId();
  REQUIRE(peer.SendRaw(RawPeer::FrameBytes(kPing, kAck, 0, ping->payload) +
                       peer.UnaryBytes(with_ack, "/t.L/Work", "with the ACK")));
  const std::optional<Frame> ping2 = next_ping(nullptr);
  REQUIRE(ping2.has_value());
  CHECK(ping2->payload != ping->payload);
  const int32_t after_ack = peer.NextStreamId();
  REQUIRE(peer.SendRaw(peer.UnaryBytes(after_ack, "/t.L/Work", "after the ACK")));
  REQUIRE(peer.SendRaw(RawPeer::FrameBytes(kPing, kAck, 0, ping2->payload)));
  REQUIRE(peer.RunUntil([&] { return !peer.goaways().empty(); }));
  CHECK(peer.goaways().back().first == after_ack);
  CHECK(peer.goaways().back().second == 0);
  const int32_t late = peer.NextStreamId();
  peer.SendUnary(late, "/t.L/Work", "too late");
  REQUIRE(peer.WaitStream(with_ack));
  REQUIRE(peer.WaitStream(after_ack));
  CHECK(peer.stream(with_ack).Messages() == std::vector<std::string>{"with the ACK"});
  CHECK(peer.stream(after_ack).Messages() == std::vector<std::string>{"after the ACK"});
  peer.RunUntil([&] { return peer.closed(); }, 2000ms);
  shutdown.join();
  CHECK(calls.load() == 2);
  CHECK_FALSE(peer.stream(late).end_stream);  // no response: ignored, or refused with a reset
  if (peer.stream(late).reset) CHECK(peer.stream(late).rst_code == 0x7);  // REFUSED_STREAM
}

TEST_CASE(
    "server: Shutdown ends calls still running at the deadline with UNAVAILABLE, then returns") {
  BlockingReader reader;
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterMethod("/t.L/Block", RpcKind::kBidiStreaming, reader.Handler());
  });
  RawPeer peer(ts.port);
  std::vector<int32_t> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(peer.NextStreamId());
    peer.SendHeaders(ids.back(), GrpcRequest("/t.L/Block"), false);
  }
  REQUIRE(Eventually([&] { return reader.started.load() == 3; }));
  const auto start = Clock::now();
  std::thread shutdown([&] {
    ts.server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  });
  peer.RunUntil([&] {
    for (int32_t id : ids) {
      if (!peer.stream(id).reset) return false;
    }
    return true;
  });
  shutdown.join();
  CHECK(MsSince(start) >= 190);
  CHECK(MsSince(start) < 3000);
  CHECK(reader.finished.load() == 3);
  CHECK(reader.saw_cancelled.load() == 3);
  // As grpc++ ends them: UNAVAILABLE in trailers, then a reset without error (we never
  // half-closed).
  for (int32_t id : ids) {
    CHECK(peer.stream(id).trailers_only());
    CHECK(peer.stream(id).GrpcStatus().code() == StatusCode::kUnavailable);
    CHECK(peer.stream(id).rst_code == 0x0);
  }
  // Shutdown is idempotent; destroying the server afterwards is fine.
  ts.server->Shutdown();
}

TEST_CASE("server: destroying a running server cancels its calls and joins everything") {
  BlockingReader reader;
  const int threads_before = ThreadCount();
  {
    auto ts = StartServer([&](ServerBuilder& b) {
      b.RegisterMethod("/t.L/Block", RpcKind::kBidiStreaming, reader.Handler());
    });
    RawPeer peer(ts.port);
    peer.SendHeaders(peer.NextStreamId(), GrpcRequest("/t.L/Block"), false);
    REQUIRE(Eventually([&] { return reader.started.load() == 1; }));
  }
  CHECK(reader.finished.load() == 1);
  CHECK(ThreadCount() == threads_before);
}

TEST_CASE("server: idle handler threads are bounded by max_idle_handler_threads") {
  std::atomic<bool> release{false};
  std::atomic<int> running{0};
  const int threads_before = ThreadCount();
  ServerOptions options;
  options.max_concurrent_calls = 32;
  options.max_idle_handler_threads = 2;
  auto ts = StartServer([&](ServerBuilder& b) {
    b.SetOptions(options);
    b.RegisterMethod("/t.L/Hold", RpcKind::kBidiStreaming, [&](ServerContext&, ServerCall&) {
      running.fetch_add(1);
      while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      running.fetch_sub(1);
      return Status();
    });
  });
  RawPeer peer(ts.port);
  std::vector<int32_t> ids;
  for (int i = 0; i < 32; ++i) {
    ids.push_back(peer.NextStreamId());
    peer.SendHeaders(ids.back(), GrpcRequest("/t.L/Hold"), true);
  }
  REQUIRE(Eventually([&] { return running.load() == 32; }));
  CHECK(ThreadCount() >= threads_before + 32);
  release = true;
  REQUIRE(peer.RunUntil([&] {
    for (int32_t id : ids) {
      if (!peer.stream(id).done()) return false;
    }
    return true;
  }));
  // 1 I/O thread + at most 2 idle handler threads remain.
  CHECK(Eventually([&] { return ThreadCount() <= threads_before + 3; }));
}

TEST_CASE("server: listening addresses — IPv4, IPv6, wildcards, port 0 reported") {
  for (const char* address :
       {"127.0.0.1:0", "0.0.0.0:0", ":0", "[::]:0", "[::1]:0", "localhost:0"}) {
    CAPTURE(address);
    ServerBuilder builder;
    int port = -1;
    builder.AddListeningPort(address, &port);
    builder.RegisterMethod("/t.A/Echo", RpcKind::kUnary, EchoHandler);
    auto server = builder.BuildAndStart();
    if (!server && std::string(address).find("::") != std::string::npos) {
      MESSAGE("IPv6 unavailable here: " << builder.error());
      continue;
    }
    REQUIRE_MESSAGE(server != nullptr, builder.error().ToString());
    REQUIRE(port > 0);
    REQUIRE(server->ports().size() == 1);
    CHECK(server->ports()[0] == port);
    const bool v6_only = std::string(address) == "[::1]:0";
    RawPeer peer(port, v6_only ? "::1" : "127.0.0.1");
    CHECK(peer.Unary("/t.A/Echo", "hi").Messages() == std::vector<std::string>{"hi"});
  }
}

TEST_CASE("server: builder errors — bad address, port in use, duplicate or malformed method") {
  {
    ServerBuilder builder;
    int port = -1;
    builder.AddListeningPort("no-port-here", &port);
    CHECK(builder.BuildAndStart() == nullptr);
    CHECK(port == 0);
    CHECK_FALSE(builder.error().ok());
  }
  auto ts = StartServer(
      [](ServerBuilder& b) { b.RegisterMethod("/t.A/Echo", RpcKind::kUnary, EchoHandler); });
  {
    ServerBuilder builder;
    int port = -1;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(ts.port), &port);
    CHECK(builder.BuildAndStart() == nullptr);
    CHECK(port == 0);
    CHECK(builder.error().code() == StatusCode::kUnavailable);
  }
  {
    ServerBuilder builder;
    builder.RegisterMethod("/t.A/Echo", RpcKind::kUnary, EchoHandler);
    builder.RegisterMethod("/t.A/Echo", RpcKind::kUnary, EchoHandler);
    CHECK(builder.BuildAndStart() == nullptr);
    CHECK(builder.error().code() == StatusCode::kAlreadyExists);
  }
  {
    ServerBuilder builder;
    builder.RegisterMethod("t.A/Echo", RpcKind::kUnary, EchoHandler);
    CHECK(builder.BuildAndStart() == nullptr);
    CHECK(builder.error().code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("server: several I/O threads share connections round-robin") {
  ServerOptions options;
  options.io_threads = 3;
  auto ts = StartServer([&](ServerBuilder& b) {
    b.SetOptions(options);
    b.RegisterMethod("/t.A/Echo", RpcKind::kUnary, EchoHandler);
  });
  std::vector<std::unique_ptr<RawPeer>> peers;
  for (int i = 0; i < 6; ++i) peers.push_back(std::make_unique<RawPeer>(ts.port));
  for (int round = 0; round < 3; ++round) {
    for (auto& p : peers) CHECK(p->Unary("/t.A/Echo", "x").GrpcStatus().ok());
  }
}

TEST_CASE("server: a plaintext client that never completes its HTTP/2 preface is dropped") {
  TestServer ts = StartServer([](ServerBuilder& b) {
    b.RegisterMethod("/t.L/Echo", RpcKind::kBidiStreaming, EchoHandler);
    b.options().handshake_timeout = std::chrono::milliseconds(300);
  });
  // One peer says nothing; one sends half the client magic; one sends the whole preface and
  // then idles past the timeout, which must not cost it the connection.
  RawPeer silent(ts.port, "127.0.0.1", /*send_preface=*/false);
  RawPeer partial(ts.port, "127.0.0.1", /*send_preface=*/false);
  RawPeer idle(ts.port);
  REQUIRE(silent.connected());
  REQUIRE(partial.connected());
  REQUIRE(idle.connected());
  REQUIRE(partial.SendRaw("PRI * HTTP/2.0\r\n"));
  const auto start = Clock::now();
  for (RawPeer* peer : {&silent, &partial}) {
    while (!peer->closed() && MsSince(start) < 5000)
      peer->ReadFrame(std::chrono::milliseconds(100));
    CHECK(peer->closed());
  }
  CHECK(MsSince(start) >= 250);  // not before the timeout (timer slack aside)
  CHECK(MsSince(start) < 3000);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // the idle peer: past 300 ms too
  const StreamResult r = idle.Unary("/t.L/Echo", "still here");
  CHECK_MESSAGE(r.GrpcStatus().ok(), r.GrpcStatus().ToString());
  CHECK(r.Messages() == std::vector<std::string>{"still here"});
}

}  // namespace
}  // namespace h2rpc::testing
