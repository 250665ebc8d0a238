// Server behaviour for well-formed calls: the four call kinds, metadata, status, compression,
// context fields, exceptions. Driven by RawPeer (real loopback sockets, HTTP/2 frames).
#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "codec/compression.h"
#include "codec/metadata.h"
#include "tests/common/call_kind_handlers.h"
#include "tests/rpc/server_harness.h"

namespace h2rpc::testing {
namespace {

TEST_CASE("server: unary echo — headers, one message, trailers, advertised limits") {
  auto ts = StartServer(
      [](ServerBuilder& b) { b.RegisterMethod("/test.Echo/Unary", RpcKind::kUnary, EchoHandler); });
  RawPeer peer(ts.port);
  REQUIRE(peer.connected());
  StreamResult r = peer.Unary("/test.Echo/Unary", "hello");
  REQUIRE(r.end_stream);
  CHECK_FALSE(r.reset);
  REQUIRE(r.header_blocks.size() == 2);
  CHECK(r.InitialHeader(":status") == "200");
  CHECK(r.InitialHeader("content-type") == "application/grpc");
  CHECK(r.InitialHeader("grpc-accept-encoding") == "identity,deflate,gzip");
  CHECK(r.Messages() == std::vector<std::string>{"hello"});
  CHECK(r.GrpcStatus().ok());
  // SETTINGS_MAX_CONCURRENT_STREAMS is the handler cap (default 256), header list 8 KiB.
  CHECK(peer.server_settings().at(0x3) == 256);
  CHECK(peer.server_settings().at(0x6) == 8 * 1024);
  CHECK(peer.server_settings().at(0x4) == 4 * 1024 * 1024);
}

TEST_CASE("server: the four call kinds over generic handlers") {
  auto ts = StartServer([](ServerBuilder& b) {
    b.RegisterMethod("/test.K/ServerStream", RpcKind::kServerStreaming, RepeatNumbered(3));
    b.RegisterMethod("/test.K/ClientStream", RpcKind::kClientStreaming, Concatenate);
    b.RegisterMethod("/test.K/Bidi", RpcKind::kBidiStreaming, EchoHandler);
  });
  RawPeer peer(ts.port);
  SUBCASE("server streaming") {
    auto r = peer.Unary("/test.K/ServerStream", "x");
    CHECK(r.Messages() == std::vector<std::string>{"x0", "x1", "x2"});
    CHECK(r.GrpcStatus().ok());
  }
  SUBCASE("client streaming") {
    const int32_t id = peer.NextStreamId();
    peer.SendHeaders(id, GrpcRequest("/test.K/ClientStream"), false);
    peer.SendData(id, GrpcFrame("a") + GrpcFrame("b"), false);
    peer.SendData(id, GrpcFrame("c"), true);
    REQUIRE(peer.WaitStream(id));
    CHECK(peer.stream(id).Messages() == std::vector<std::string>{"abc"});
    CHECK(peer.stream(id).GrpcStatus().ok());
  }
  SUBCASE("bidi: each message answered before the client half-closes") {
    const int32_t id = peer.NextStreamId();
    peer.SendHeaders(id, GrpcRequest("/test.K/Bidi"), false);
    for (int i = 0; i < 5; ++i) {
      const std::string msg = "ping" + std::to_string(i);
      peer.SendData(id, GrpcFrame(msg), false);
      REQUIRE(peer.RunUntil([&] { return peer.stream(id).Messages().size() == size_t(i + 1); }));
      CHECK(peer.stream(id).Messages().back() == msg);
    }
    peer.SendData(id, "", true);
    REQUIRE(peer.WaitStream(id));
    CHECK(peer.stream(id).GrpcStatus().ok());
  }
}

TEST_CASE("server: metadata both ways, -bin decoded and encoded, status details") {
  auto ts = StartServer([](ServerBuilder& b) {
    b.RegisterMethod("/test.M/Echo", RpcKind::kUnary, [](ServerContext& ctx, ServerCall& call) {
      std::string m;
      call.Read(&m);
      const auto& md = ctx.client_metadata();
      auto text = md.find("x-text");
      auto bin = md.equal_range("x-data-bin");
      std::string bins;
      for (auto it = bin.first; it != bin.second; ++it) bins += "[" + it->second + "]";
      ctx.AddInitialMetadata("x-initial", text == md.end() ? "missing" : text->second);
      ctx.AddInitialMetadata("x-initial-bin", std::string("\x00\xff", 2));
      ctx.AddTrailingMetadata("x-trailing", bins);
      call.Write(ctx.method() + "|" + ctx.authority() + "|" + ctx.peer().substr(0, 14));
      return Status(StatusCode::kNotFound, "100% not here\n", "details\x01");
    });
  });
  RawPeer peer(ts.port);
  auto r = peer.Unary("/test.M/Echo", "",
                      {{"x-text", "hi"},
                       // unpadded "one", padded "to", on one line
                       {"x-data-bin", codec::Base64EncodeUnpadded("one") + ",dG8="},
                       {"grpc-trace-bin", ""}});
  REQUIRE(r.end_stream);
  CHECK(r.InitialHeader("x-initial") == "hi");
  CHECK(r.InitialHeader("x-initial-bin") ==
        codec::Base64EncodeUnpadded(std::string("\x00\xff", 2)));
  CHECK(r.Header("x-trailing") == "[one][to]");
  CHECK(r.Messages() == std::vector<std::string>{"/test.M/Echo|localhost|ipv4:127.0.0.1"});
  CHECK(r.Header("grpc-status") == "5");
  CHECK(r.Header("grpc-message") == "100%25 not here%0A");
  CHECK(r.GrpcStatus().message() == "100% not here\n");
  CHECK(r.Header("grpc-status-details-bin") == codec::Base64EncodeUnpadded("details\x01"));
}

TEST_CASE("server: an error status before any message is a Trailers-Only response") {
  auto ts = StartServer([](ServerBuilder& b) {
    b.RegisterMethod("/test.S/Fail", RpcKind::kUnary, [](ServerContext& ctx, ServerCall&) {
      ctx.AddInitialMetadata("x-early", "1");
      ctx.AddTrailingMetadata("x-late", "2");
      return Status(StatusCode::kPermissionDenied, "no");
    });
  });
  RawPeer peer(ts.port);
  auto r = peer.Unary("/test.S/Fail", "req");
  REQUIRE(r.trailers_only());
  CHECK(r.InitialHeader(":status") == "200");
  CHECK(r.InitialHeader("content-type") == "application/grpc");
  CHECK(r.InitialHeader("x-early") == "1");
  CHECK(r.InitialHeader("x-late") == "2");
  CHECK(r.GrpcStatus().code() == StatusCode::kPermissionDenied);
  CHECK(r.GrpcStatus().message() == "no");
}

TEST_CASE("server: SendInitialMetadata sends headers before any message") {
  std::atomic<bool> release{false};
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterMethod("/test.S/Early", RpcKind::kBidiStreaming,
                     [&](ServerContext& ctx, ServerCall& call) {
                       ctx.AddInitialMetadata("x-first", "yes");
                       call.SendInitialMetadata();
                       ctx.AddInitialMetadata("x-too-late", "ignored");
                       while (!release.load())
                         std::this_thread::sleep_for(std::chrono::milliseconds(1));
                       return Status();
                     });
  });
  RawPeer peer(ts.port);
  const int32_t id = peer.NextStreamId();
  peer.SendHeaders(id, GrpcRequest("/test.S/Early"), true);
  REQUIRE(peer.RunUntil([&] { return !peer.stream(id).header_blocks.empty(); }));
  CHECK(peer.stream(id).InitialHeader("x-first") == "yes");
  CHECK_FALSE(peer.stream(id).done());
  release = true;
  REQUIRE(peer.WaitStream(id));
  CHECK(peer.stream(id).header_blocks.size() == 2);
  CHECK(peer.stream(id).Header("x-too-late").empty());
  CHECK(peer.stream(id).GrpcStatus().ok());
}

TEST_CASE("server: a handler that throws ends UNKNOWN with the text; the server keeps serving") {
  auto ts = StartServer([](ServerBuilder& b) {
    b.RegisterMethod("/test.T/Throw", RpcKind::kUnary, [](ServerContext&, ServerCall&) -> Status {
      throw std::runtime_error("boom");
    });
    b.RegisterMethod("/test.T/ThrowInt", RpcKind::kUnary,
                     [](ServerContext&, ServerCall&) -> Status { throw 42; });
    b.RegisterMethod("/test.T/Echo", RpcKind::kUnary, EchoHandler);
  });
  RawPeer peer(ts.port);
  for (int i = 0; i < 20; ++i) {
    auto r = peer.Unary("/test.T/Throw", "x");
    CHECK(r.GrpcStatus().code() == StatusCode::kUnknown);
    CHECK(r.GrpcStatus().message() == "boom");
  }
  CHECK(peer.Unary("/test.T/ThrowInt", "x").GrpcStatus().code() == StatusCode::kUnknown);
  auto ok = peer.Unary("/test.T/Echo", "still here");
  CHECK(ok.Messages() == std::vector<std::string>{"still here"});
  CHECK(ok.GrpcStatus().ok());
}

TEST_CASE("server: typed Service registration and the fallback handler") {
  struct Counter final : Service {
    Counter() {
      AddMethod("/test.Svc/A", RpcKind::kUnary, [](ServerContext&, ServerCall& call) {
        std::string m;
        call.Read(&m);
        call.Write("A:" + m);
        return Status();
      });
    }
  } service;
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterService(&service);
    b.SetFallbackHandler([](ServerContext& ctx, ServerCall& call) {
      std::string m;
      while (call.Read(&m)) {
      }
      call.Write("fallback:" + ctx.method());
      return Status();
    });
  });
  RawPeer peer(ts.port);
  CHECK(peer.Unary("/test.Svc/A", "1").Messages() == std::vector<std::string>{"A:1"});
  CHECK(peer.Unary("/other.Svc/Z", "1").Messages() ==
        std::vector<std::string>{"fallback:/other.Svc/Z"});
}

TEST_CASE("server: response compression follows the handler's choice and the client's accept") {
  auto ts = StartServer([](ServerBuilder& b) {
    b.RegisterMethod("/test.C/Gzip", RpcKind::kServerStreaming,
                     [](ServerContext& ctx, ServerCall& call) {
                       std::string m;
                       call.Read(&m);
                       ctx.set_compression_algorithm(Compression::kGzip);
                       call.Write(std::string(1000, 'z'));
                       WriteOptions plain;
                       plain.no_compression = true;
                       call.Write("plain", plain);
                       return Status();
                     });
  });
  RawPeer peer(ts.port);
  SUBCASE("client accepts gzip") {
    auto r = peer.Unary("/test.C/Gzip", "", {{"grpc-accept-encoding", "gzip"}});
    CHECK(r.InitialHeader("grpc-encoding") == "gzip");
    auto msgs = r.Messages();
    REQUIRE(msgs.size() == 2);
    CHECK(static_cast<uint8_t>(r.data[0]) == 1);  // compressed flag of the first message
    auto raw = codec::Decompress(Compression::kGzip, msgs[0], 1 << 20);
    REQUIRE(raw.ok());
    CHECK(*raw == std::string(1000, 'z'));
    CHECK(msgs[1] == "plain");
  }
  SUBCASE("client does not accept it: identity") {
    auto r = peer.Unary("/test.C/Gzip", "");
    CHECK(r.InitialHeader("grpc-encoding").empty());
    CHECK(r.Messages() == std::vector<std::string>{std::string(1000, 'z'), "plain"});
  }
}

TEST_CASE("server: compressed requests are inflated for the handler") {
  auto ts = StartServer([](ServerBuilder& b) {
    b.RegisterMethod("/test.C/Echo", RpcKind::kUnary, [](ServerContext& ctx, ServerCall& call) {
      std::string m;
      if (!call.Read(&m)) return Status(StatusCode::kInternal, "no message");
      call.Write(m + (ctx.last_message_compressed() ? "|compressed" : "|plain"));
      return Status();
    });
  });
  RawPeer peer(ts.port);
  for (auto c : {Compression::kGzip, Compression::kDeflate}) {
    auto z = codec::Compress(c, "squeeze me");
    REQUIRE(z.ok());
    const int32_t id = peer.NextStreamId();
    peer.SendHeaders(
        id,
        GrpcRequest("/test.C/Echo", {{"grpc-encoding", std::string(codec::CompressionName(c))}}),
        false);
    peer.SendData(id, GrpcFrame(*z, true), true);
    REQUIRE(peer.WaitStream(id));
    CHECK(peer.stream(id).Messages() == std::vector<std::string>{"squeeze me|compressed"});
  }
}

TEST_CASE("server: ServerContext deadline comes from grpc-timeout") {
  std::atomic<int64_t> left_ms{-1};
  std::atomic<bool> no_deadline{false};
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterMethod("/test.D/Check", RpcKind::kUnary, [&](ServerContext& ctx, ServerCall& call) {
      std::string m;
      call.Read(&m);
      if (ctx.deadline() == std::chrono::system_clock::time_point::max()) {
        no_deadline = true;
      } else {
        left_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      ctx.deadline() - std::chrono::system_clock::now())
                      .count();
      }
      return Status();
    });
  });
  RawPeer peer(ts.port);
  peer.Unary("/test.D/Check", "", {{"grpc-timeout", "30S"}});
  CHECK(left_ms.load() > 25000);
  CHECK(left_ms.load() <= 30000);
  peer.Unary("/test.D/Check", "");
  CHECK(no_deadline.load());
}

TEST_CASE("server: many concurrent calls on one connection all complete") {
  auto ts = StartServer(
      [](ServerBuilder& b) { b.RegisterMethod("/test.E/Echo", RpcKind::kUnary, EchoHandler); });
  RawPeer peer(ts.port);
  std::vector<int32_t> ids;
  for (int i = 0; i < 200; ++i) {
    const int32_t id = peer.NextStreamId();
    ids.push_back(id);
    peer.SendUnary(id, "/test.E/Echo", "m" + std::to_string(i));
  }
  REQUIRE(peer.RunUntil([&] {
    for (int32_t id : ids) {
      if (!peer.stream(id).done()) return false;
    }
    return true;
  }));
  int ok = 0;
  int refused = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const StreamResult& r = peer.stream(ids[i]);
    if (r.reset) {
      ++refused;
      continue;
    }
    CHECK(r.Messages() == std::vector<std::string>{"m" + std::to_string(i)});
    ok += r.GrpcStatus().ok() ? 1 : 0;
  }
  // 200 is below the default cap of 256: nothing may be refused.
  CHECK(refused == 0);
  CHECK(ok == 200);
}

}  // namespace
}  // namespace h2rpc::testing

namespace h2rpc::testing {
namespace {

TEST_CASE("server: h2load (nghttp2's client) — 2000 unary calls over 2 connections, all answered") {
  if (std::system("command -v h2load > /dev/null 2>&1") != 0) {
    MESSAGE("h2load not installed: skipped");
    return;
  }
  std::atomic<int> calls{0};
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterMethod("/bench.Bench/Unary", RpcKind::kUnary,
                     [&](ServerContext& ctx, ServerCall& call) {
                       calls.fetch_add(1);
                       return EchoHandler(ctx, call);
                     });
  });
  char body_path[] = "/tmp/h2rpc-h2load-XXXXXX";
  const int fd = mkstemp(body_path);
  REQUIRE(fd >= 0);
  const std::string body = GrpcFrame(std::string(64, 'x'));
  REQUIRE(write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()));
  close(fd);
  const std::string command = "h2load -n 2000 -c 2 -m 20 -t 1 -d " + std::string(body_path) +
                              " -H 'content-type: application/grpc' -H 'te: trailers'" +
                              " http://127.0.0.1:" + std::to_string(ts.port) +
                              "/bench.Bench/Unary 2>&1";
  std::string output;
  if (FILE* p = popen(command.c_str(), "r")) {
    char buf[512];
    while (fgets(buf, sizeof buf, p) != nullptr) output += buf;
    pclose(p);
  }
  unlink(body_path);
  CAPTURE(output);
  CHECK(output.find("2000 succeeded, 0 failed, 0 errored") != std::string::npos);
  // h2load counts any 200 as success: the handler count and the DATA bytes prove the calls ran
  // and each got its 69-byte answer.
  CHECK(calls.load() == 2000);
  CHECK(output.find("(138000) data") != std::string::npos);
}

TEST_CASE("server: OnCancel wakes a handler blocked on its own condition variable") {
  // The handler waits on something of its own (as a health Watch waits for status changes);
  // the client's RST_STREAM must reach it through OnCancel, and a callback set after the
  // cancellation runs at once, on the handler's thread.
  std::mutex mu;
  std::condition_variable cv;
  bool woken = false;
  std::atomic<bool> waiting{false};
  std::atomic<bool> late_callback_ran{false};
  std::atomic<bool> handler_returned{false};
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterMethod("/test.C/Wait", RpcKind::kBidiStreaming,
                     [&](ServerContext& context, ServerCall&) {
                       context.OnCancel([&] {
                         std::lock_guard lock(mu);
                         woken = true;
                         cv.notify_all();
                       });
                       {
                         std::unique_lock lock(mu);
                         waiting = true;
                         cv.wait(lock, [&] { return woken; });
                       }
                       context.OnCancel({});
                       context.OnCancel([&] { late_callback_ran = true; });
                       handler_returned = late_callback_ran.load();
                       return Status(StatusCode::kCancelled, "woken by the cancel");
                     });
  });
  RawPeer peer(ts.port);
  REQUIRE(peer.connected());
  const int32_t id = peer.NextStreamId();
  peer.SendHeaders(id, GrpcRequest("/test.C/Wait"), false);
  REQUIRE(Eventually([&] { return waiting.load(); }));
  peer.SendRst(id, 0x8 /* CANCEL */);
  CHECK(Eventually([&] { return handler_returned.load(); }));
  CHECK(late_callback_ran.load());
}

}  // namespace
}  // namespace h2rpc::testing
