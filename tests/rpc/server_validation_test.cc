// Server request validation: every early failure is answered (Trailers-Only, or an HTTP status
// for requests that are not gRPC), no handler runs, and the connection keeps serving.
#include <doctest/doctest.h>
#include <nghttp2/nghttp2.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "codec/compression.h"
#include "tests/rpc/server_harness.h"

namespace h2rpc::testing {
namespace {

/// A server whose only method counts its runs; used to prove "no handler ran".
struct CountingServer {
  std::atomic<int> runs{0};
  TestServer ts;
  CountingServer() {
    ts = StartServer([this](ServerBuilder& b) {
      b.RegisterMethod("/pkg.Svc/Echo", RpcKind::kUnary,
                       [this](ServerContext& c, ServerCall& call) {
                         runs.fetch_add(1);
                         return EchoHandler(c, call);
                       });
      b.RegisterMethod("/pkg.Svc/Bidi", RpcKind::kBidiStreaming,
                       [this](ServerContext& c, ServerCall& call) {
                         runs.fetch_add(1);
                         return EchoHandler(c, call);
                       });
    });
  }
};

/// Sends `headers` (+ `body` if not empty) on a fresh stream and waits for the answer.
StreamResult Send(RawPeer& peer, const HeaderList& headers, const std::string& body = "",
                  bool end_stream = true) {
  const int32_t id = peer.NextStreamId();
  if (body.empty()) {
    peer.SendHeaders(id, headers, end_stream);
  } else {
    peer.SendHeaders(id, headers, false);
    peer.SendData(id, body, end_stream);
  }
  peer.WaitStream(id);
  return peer.stream(id);
}

void CheckStillServes(RawPeer& peer) {
  StreamResult ok = peer.Unary("/pkg.Svc/Echo", "alive");
  CHECK(ok.Messages() == std::vector<std::string>{"alive"});
  CHECK(ok.GrpcStatus().ok());
}

TEST_CASE("server: unknown service and unknown method → UNIMPLEMENTED Trailers-Only, no handler") {
  CountingServer s;
  RawPeer peer(s.ts.port);
  StreamResult r = peer.Unary("/other.Svc/Echo", "x");
  REQUIRE(r.trailers_only());
  CHECK(r.GrpcStatus().code() == StatusCode::kUnimplemented);
  CHECK(r.GrpcStatus().message() == "unknown service other.Svc");
  r = peer.Unary("/pkg.Svc/Nope", "x");
  REQUIRE(r.trailers_only());
  CHECK(r.GrpcStatus().code() == StatusCode::kUnimplemented);
  CHECK(r.GrpcStatus().message() == "unknown method Nope for service pkg.Svc");
  CHECK(s.runs.load() == 0);
  CheckStillServes(peer);
}

TEST_CASE("server: bad :path values → UNIMPLEMENTED, no handler runs") {
  CountingServer s;
  RawPeer peer(s.ts.port);
  for (const char* path : {"", "/", "Svc/M", "//Svc/M", "/pkg.Svc/", "/pkg.Svc/Echo/x"}) {
    CAPTURE(path);
    StreamResult r = Send(peer, GrpcRequest(path), GrpcFrame("x"));
    REQUIRE(r.end_stream);
    CHECK(r.InitialHeader(":status") == "200");
    CHECK(r.GrpcStatus().code() == StatusCode::kUnimplemented);
  }
  CHECK(s.runs.load() == 0);
  CheckStillServes(peer);
}

TEST_CASE("server: non-POST → HTTP 405; wrong content-type → HTTP 415") {
  CountingServer s;
  RawPeer peer(s.ts.port);
  HeaderList get = GrpcRequest("/pkg.Svc/Echo");
  get[0].second = "GET";
  StreamResult r = Send(peer, get);
  REQUIRE(r.end_stream);
  CHECK(r.InitialHeader(":status") == "405");
  for (const char* type : {"application/json", "text/plain", "application/grpc-web"}) {
    CAPTURE(type);
    HeaderList h = GrpcRequest("/pkg.Svc/Echo");
    h[4].second = type;
    r = Send(peer, h, GrpcFrame("x"));
    REQUIRE(r.end_stream);
    CHECK(r.InitialHeader(":status") == "415");
  }
  HeaderList no_type = GrpcRequest("/pkg.Svc/Echo");
  no_type.erase(no_type.begin() + 4);
  CHECK(Send(peer, no_type).InitialHeader(":status") == "415");
  // Variants gRPC allows.
  HeaderList proto = GrpcRequest("/pkg.Svc/Echo");
  proto[4].second = "application/grpc+proto";
  CHECK(Send(peer, proto, GrpcFrame("p")).Messages() == std::vector<std::string>{"p"});
  CHECK(s.runs.load() == 1);
  CheckStillServes(peer);
}

TEST_CASE("server: te policy — missing te accepted, te other than trailers is a stream error") {
  CountingServer s;
  RawPeer peer(s.ts.port);
  HeaderList no_te = GrpcRequest("/pkg.Svc/Echo");
  no_te.erase(no_te.begin() + 5);
  StreamResult r = Send(peer, no_te, GrpcFrame("no te"));
  CHECK(r.Messages() == std::vector<std::string>{"no te"});
  CHECK(r.GrpcStatus().ok());

  HeaderList gzip_te = GrpcRequest("/pkg.Svc/Echo");
  gzip_te[5].second = "gzip";
  r = Send(peer, gzip_te, GrpcFrame("x"));
  CHECK(r.reset);
  CHECK(r.rst_code == 0x1);  // PROTOCOL_ERROR: malformed request (RFC 9113 §8.2.2)
  CHECK(s.runs.load() == 1);
  CheckStillServes(peer);
}

TEST_CASE("server: connection-specific headers fail that stream (HTTP 400), connection lives") {
  CountingServer s;
  RawPeer peer(s.ts.port);
  for (const char* name :
       {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}) {
    CAPTURE(name);
    StreamResult r = Send(peer, GrpcRequest("/pkg.Svc/Echo", {{name, "x"}}), GrpcFrame("x"));
    REQUIRE(r.end_stream);
    CHECK(r.InitialHeader(":status") == "400");
  }
  CHECK(s.runs.load() == 0);
  CheckStillServes(peer);
}

TEST_CASE("server: malformed pseudo-headers → HTTP 400") {
  CountingServer s;
  RawPeer peer(s.ts.port);
  HeaderList late_pseudo = {{":method", "POST"},
                            {"content-type", "application/grpc"},
                            {":scheme", "http"},
                            {":path", "/pkg.Svc/Echo"}};
  CHECK(Send(peer, late_pseudo).InitialHeader(":status") == "400");
  HeaderList no_method = GrpcRequest("/pkg.Svc/Echo");
  no_method.erase(no_method.begin());
  CHECK(Send(peer, no_method).InitialHeader(":status") == "400");
  CHECK(Send(peer, GrpcRequest("/pkg.Svc/Echo", {{":bogus", "1"}})).InitialHeader(":status") ==
        "400");
  CHECK(s.runs.load() == 0);
  CheckStillServes(peer);
}

TEST_CASE("server: grpc-timeout 0 → DEADLINE_EXCEEDED without running the handler") {
  CountingServer s;
  RawPeer peer(s.ts.port);
  for (const char* t : {"0n", "0S", "0H"}) {
    StreamResult r = peer.Unary("/pkg.Svc/Echo", "x", {{"grpc-timeout", t}});
    REQUIRE(r.trailers_only());
    CHECK(r.GrpcStatus().code() == StatusCode::kDeadlineExceeded);
  }
  // Malformed timeouts are the peer's library's fault: INTERNAL (as grpc-go).
  for (const char* t : {"", "1", "1x", "123456789S", "-1u"}) {
    CAPTURE(t);
    StreamResult r = peer.Unary("/pkg.Svc/Echo", "x", {{"grpc-timeout", t}});
    CHECK(r.GrpcStatus().code() == StatusCode::kInternal);
  }
  // Huge ones clamp and work.
  CHECK(peer.Unary("/pkg.Svc/Echo", "x", {{"grpc-timeout", "99999999H"}}).GrpcStatus().ok());
  CHECK(s.runs.load() == 1);
}

TEST_CASE("server: unsupported grpc-encoding → UNIMPLEMENTED with our grpc-accept-encoding") {
  CountingServer s;
  RawPeer peer(s.ts.port);
  StreamResult r = peer.Unary("/pkg.Svc/Echo", "x", {{"grpc-encoding", "snappy"}});
  REQUIRE(r.trailers_only());
  CHECK(r.GrpcStatus().code() == StatusCode::kUnimplemented);
  CHECK(r.Header("grpc-accept-encoding") == "identity,deflate,gzip");
  CHECK(s.runs.load() == 0);
  // Identity is always fine.
  CHECK(peer.Unary("/pkg.Svc/Echo", "x", {{"grpc-encoding", "identity"}}).GrpcStatus().ok());
}

TEST_CASE("server: compressed flag without grpc-encoding → INTERNAL; flag 2 → INTERNAL") {
  CountingServer s;
  RawPeer peer(s.ts.port);
  StreamResult r = Send(peer, GrpcRequest("/pkg.Svc/Echo"), GrpcFrame("x", /*compressed=*/true));
  REQUIRE(r.trailers_only());
  CHECK(r.GrpcStatus().code() == StatusCode::kInternal);
  std::string bad_flag = GrpcFrame("x");
  bad_flag[0] = 2;
  r = Send(peer, GrpcRequest("/pkg.Svc/Echo"), bad_flag);
  CHECK(r.GrpcStatus().code() == StatusCode::kInternal);
  CHECK(s.runs.load() == 0);
  CheckStillServes(peer);
}

TEST_CASE(
    "server: max receive message size — exactly 4 MiB passes, 4 MiB + 1 is RESOURCE_EXHAUSTED") {
  CountingServer s;
  RawPeer peer(s.ts.port);
  const std::string max(4 * 1024 * 1024, 'm');
  StreamResult r = peer.Unary("/pkg.Svc/Echo", max, {}, std::chrono::seconds(20));
  CAPTURE(r.reset);
  CAPTURE(r.rst_code);
  CAPTURE(r.header_blocks.size());
  CAPTURE(r.data.size());
  CAPTURE(peer.goaway_error());
  CAPTURE(peer.closed());
  REQUIRE(r.end_stream);
  CHECK(r.GrpcStatus().ok());
  REQUIRE(r.Messages().size() == 1);
  CHECK(r.Messages()[0] == max);

  r = peer.Unary("/pkg.Svc/Echo", max + "!", {}, std::chrono::seconds(20));
  REQUIRE(r.end_stream);
  CHECK(r.trailers_only());
  CHECK(r.GrpcStatus().code() == StatusCode::kResourceExhausted);
  CHECK(s.runs.load() == 1);
  CheckStillServes(peer);
}

TEST_CASE("server: a streaming handler sees Read() = false when a message is too large") {
  std::atomic<int> read_failures{0};
  std::atomic<bool> cancelled{false};
  auto ts = StartServer([&](ServerBuilder& b) {
    b.SetMaxReceiveMessageSize(1024);
    b.RegisterMethod("/pkg.Svc/Up", RpcKind::kClientStreaming,
                     [&](ServerContext& ctx, ServerCall& call) {
                       std::string m;
                       int n = 0;
                       while (call.Read(&m)) ++n;
                       // Published before the counter the test waits on, so the test never
                       // reads `cancelled` before the handler stored it.
                       cancelled = ctx.IsCancelled();
                       read_failures.fetch_add(1);
                       return Status(StatusCode::kOk, "read " + std::to_string(n));
                     });
  });
  RawPeer peer(ts.port);
  const int32_t id = peer.NextStreamId();
  peer.SendHeaders(id, GrpcRequest("/pkg.Svc/Up"), false);
  peer.SendData(id, GrpcFrame("small"), false);
  peer.SendData(id, GrpcFrame(std::string(2000, 'x')), false);
  REQUIRE(peer.WaitStream(id));
  const StreamResult& r = peer.stream(id);
  CHECK(r.GrpcStatus().code() == StatusCode::kResourceExhausted);
  REQUIRE(Eventually([&] { return read_failures.load() == 1; }));
  CHECK(cancelled.load());
  // The upload is stopped with RST_STREAM(NO_ERROR) after the trailers.
  REQUIRE(peer.RunUntil([&] { return peer.stream(id).reset; }));
  CHECK(peer.stream(id).rst_code == 0);
}

TEST_CASE(
    "server: two request messages on a unary method → INTERNAL; stream ending mid-message → "
    "INTERNAL") {
  CountingServer s;
  RawPeer peer(s.ts.port);
  StreamResult r = Send(peer, GrpcRequest("/pkg.Svc/Echo"), GrpcFrame("a") + GrpcFrame("b"));
  CHECK(r.GrpcStatus().code() == StatusCode::kInternal);
  r = Send(peer, GrpcRequest("/pkg.Svc/Echo"), GrpcFrame("abcdef").substr(0, 7));
  CHECK(r.GrpcStatus().code() == StatusCode::kInternal);
  CHECK(s.runs.load() == 0);
  // A unary request with no message reaches the handler, whose Read() is false.
  r = Send(peer, GrpcRequest("/pkg.Svc/Echo"));
  CHECK(r.GrpcStatus().ok());
  CHECK(r.Messages().empty());
  CheckStillServes(peer);
}

TEST_CASE("server: max send message size fails the call RESOURCE_EXHAUSTED") {
  std::atomic<int> write_result{-1};  // -1 until the handler's second Write returned
  auto ts = StartServer([&](ServerBuilder& b) {
    b.SetMaxSendMessageSize(100);
    b.RegisterMethod("/pkg.Svc/Big", RpcKind::kServerStreaming,
                     [&](ServerContext&, ServerCall& call) {
                       std::string m;
                       call.Read(&m);
                       call.Write("small");
                       write_result = call.Write(std::string(101, 'b')) ? 1 : 0;
                       return Status();
                     });
  });
  RawPeer peer(ts.port);
  StreamResult r = peer.Unary("/pkg.Svc/Big", "");
  // The status leaves while Write is still returning: wait for its result.
  REQUIRE(Eventually([&] { return write_result.load() != -1; }));
  CHECK(write_result.load() == 0);
  CHECK(r.Messages() == std::vector<std::string>{"small"});
  CHECK(r.GrpcStatus().code() == StatusCode::kResourceExhausted);
}

TEST_CASE(
    "server: RST_STREAM for a stream never opened (gRPC core's cancel race) is dropped, the "
    "connection serves on") {
  // gRPC's C core resets a call cancelled after it took a stream id but before its HEADERS left;
  // nghttp2 alone would end the whole connection with GOAWAY(PROTOCOL_ERROR).
  CountingServer s;
  RawPeer peer(s.ts.port);
  const int32_t never_opened = peer.NextStreamId();
  REQUIRE(peer.SendRst(never_opened, NGHTTP2_CANCEL));
  CheckStillServes(peer);
  // One cut across two TCP writes, while another stream is open.
  const int32_t open = peer.NextStreamId();
  REQUIRE(peer.SendHeaders(open, GrpcRequest("/pkg.Svc/Bidi"), false));
  REQUIRE(peer.SendData(open, GrpcFrame("one"), false));
  REQUIRE(peer.RunUntil([&] { return peer.stream(open).data.size() >= GrpcFrame("one").size(); }));
  const int32_t skipped = peer.NextStreamId();
  const std::string rst =
      RawPeer::FrameBytes(NGHTTP2_RST_STREAM, 0, skipped, std::string("\0\0\0\x08", 4));
  REQUIRE(peer.SendRaw(rst.substr(0, 5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(peer.SendRaw(rst.substr(5)));
  REQUIRE(peer.SendData(open, GrpcFrame("two"), true));
  REQUIRE(peer.WaitStream(open));
  CHECK(peer.stream(open).Messages() == std::vector<std::string>{"one", "two"});
  CHECK(peer.stream(open).GrpcStatus().ok());
  CheckStillServes(peer);
  // A reset of a stream that was opened still cancels it.
  const int32_t cancelled = peer.NextStreamId();
  REQUIRE(peer.SendHeaders(cancelled, GrpcRequest("/pkg.Svc/Bidi"), false));
  REQUIRE(Eventually([&] { return s.runs.load() == 4; }));
  REQUIRE(peer.SendRst(cancelled, NGHTTP2_CANCEL));
  CheckStillServes(peer);
  CHECK_FALSE(peer.goaway_received());
  CHECK_FALSE(peer.closed());
}

TEST_CASE("server: invalid metadata added by a handler ends the call INTERNAL") {
  auto ts = StartServer([](ServerBuilder& b) {
    b.RegisterMethod("/pkg.Svc/Md", RpcKind::kUnary, [](ServerContext& ctx, ServerCall& call) {
      std::string m;
      call.Read(&m);
      ctx.AddInitialMetadata("Bad Key", "v");
      call.Write(m);
      return Status();
    });
  });
  RawPeer peer(ts.port);
  StreamResult r = peer.Unary("/pkg.Svc/Md", "x");
  CHECK(r.GrpcStatus().code() == StatusCode::kInternal);
}

}  // namespace
}  // namespace h2rpc::testing
