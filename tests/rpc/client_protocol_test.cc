// Client behaviour against a scriptable raw HTTP/2 server (FakeServer): what the client puts on
// the wire, and how it maps every kind of response — including broken ones — to a Status.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "codec/compression.h"
#include "codec/metadata.h"
#include "codec/percent.h"
#include "codec/timeout.h"
#include "h2rpc.h"
#include "tests/rpc/client_fake_server.h"

namespace h2rpc::testing {
namespace {

using namespace std::chrono_literals;
using Stream = FakeServer::Stream;

/// Polls `done` every millisecond for at most `limit`.
bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit = 5000ms) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return done();
}

/// Echo: answers each request message with the same bytes, then OK once the client half-closed.
void InstallEcho(FakeServer& server) {
  server.on_data = [&server](Stream& s) {
    for (std::string& m : server.Locked([&] { return s.TakeMessages(); })) server.SendMessage(s, m);
  };
  server.on_end = [&server](Stream& s) { server.SendStatus(s, 0); };
}

/// Remembers every stream the server saw, in arrival order.
struct StreamLog {
  explicit StreamLog(FakeServer& server) : server(server) {
    server.on_headers = [this](Stream& s) {
      this->server.Locked([&] { streams.push_back(&s); });
      if (then) then(s);
    };
  }
  ~StreamLog() {
    // The server outlives the log: stop it calling into us (and order our reads after its writes).
    server.RunOnServer([this] { server.on_headers = nullptr; });
  }
  size_t size() {
    return server.Locked([&] { return streams.size(); });
  }
  Stream* at(size_t i) {
    return server.Locked([&] { return streams.at(i); });
  }
  FakeServer& server;
  std::vector<Stream*> streams;
  std::function<void(Stream&)> then;
};

Status Unary(Channel& channel, const std::string& request = "ping", std::string* reply = nullptr,
             ClientContext* context = nullptr) {
  ClientContext own;
  std::string ignored;
  return channel.UnaryCall(context != nullptr ? *context : own, "/test.Echo/Unary", request,
                           reply != nullptr ? reply : &ignored);
}

TEST_CASE("client: request headers on the wire") {
  FakeServer server;
  InstallEcho(server);
  StreamLog log(server);
  ChannelOptions options;
  options.user_agent_prefix = "tests/1.0";
  auto channel = Channel::Create(server.target(), options);
  ClientContext context;
  context.set_timeout(5s);
  context.AddMetadata("x-plain", "value 1");
  context.AddMetadata("x-data-bin", std::string("\x00\xff\x10", 3));
  std::string reply;
  REQUIRE(channel->UnaryCall(context, "/pkg.Svc/Method", "hello", &reply).ok());
  CHECK(reply == "hello");
  REQUIRE(log.size() == 1);
  const codec::HeaderList headers = server.Locked([&] { return log.streams.at(0)->headers; });
  // Pseudo-headers first, in the usual order.
  REQUIRE(headers.size() >= 4);
  CHECK(headers[0] == std::pair<std::string, std::string>(":method", "POST"));
  CHECK(headers[1] == std::pair<std::string, std::string>(":scheme", "http"));
  CHECK(headers[2] == std::pair<std::string, std::string>(":path", "/pkg.Svc/Method"));
  CHECK(headers[3] == std::pair<std::string, std::string>(":authority", server.target()));
  Stream& s = *log.at(0);
  server.Locked([&] {
    CHECK(s.Header("te") == "trailers");
    CHECK(s.Header("content-type") == "application/grpc");
    CHECK(s.Header("user-agent") == "h2rpc-cpp/0.1.0 tests/1.0");
    CHECK(s.Header("grpc-accept-encoding") == "identity,deflate,gzip");
    CHECK(s.Header("grpc-encoding").empty());
    CHECK(s.Header("x-plain") == "value 1");
    CHECK(s.Header("x-data-bin") == codec::Base64EncodeUnpadded(std::string("\x00\xff\x10", 3)));
    StatusOr<std::chrono::nanoseconds> timeout = codec::ParseTimeout(s.Header("grpc-timeout"));
    REQUIRE(timeout.ok());
    CHECK(*timeout <= 5s);
    CHECK(*timeout > 4s);
    return 0;
  });
  CHECK(context.peer() == "ipv4:127.0.0.1:" + std::to_string(server.port()));
}

TEST_CASE("client: default_authority replaces the target in :authority") {
  FakeServer server;
  InstallEcho(server);
  StreamLog log(server);
  ChannelOptions options;
  options.default_authority = "api.example.com:443";
  auto channel = Channel::Create(server.target(), options);
  REQUIRE(Unary(*channel).ok());
  REQUIRE(log.size() == 1);
  CHECK(server.Locked([&] { return log.streams.at(0)->Header(":authority"); }) ==
        "api.example.com:443");

  for (const std::string& bad :
       std::vector<std::string>{"two words", std::string("nul\0", 4), "caf\xc3\xa9", "tab\t"}) {
    CAPTURE(bad);
    ChannelOptions invalid;
    invalid.default_authority = bad;
    Status s = Unary(*Channel::Create(server.target(), invalid));
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(s.message().find("default_authority") != std::string::npos);
  }
  CHECK(log.size() == 1);  // nothing was sent for those
}

TEST_CASE("client: target forms") {
  SUBCASE("[::1]:port") {
    FakeServer::Options o;
    o.host = "::1";
    FakeServer server(o);
    InstallEcho(server);
    auto channel = Channel::Create("[::1]:" + std::to_string(server.port()));
    ClientContext context;
    CHECK(Unary(*channel, "x", nullptr, &context).ok());
    CHECK(context.peer() == "ipv6:[::1]:" + std::to_string(server.port()));
  }
  SUBCASE("localhost:port and dns:") {
    FakeServer server;
    InstallEcho(server);
    CHECK(Unary(*Channel::Create("localhost:" + std::to_string(server.port()))).ok());
    CHECK(Unary(*Channel::Create("dns:127.0.0.1:" + std::to_string(server.port()))).ok());
    CHECK(Unary(*Channel::Create("dns:///localhost:" + std::to_string(server.port()))).ok());
  }
  SUBCASE("a name resolved off the I/O thread") {
    // Not "localhost" and not numeric: resolution goes to the helper thread. The machine's own
    // host name normally resolves to a loopback address through /etc/hosts.
    char name[256] = {};
    gethostname(name, sizeof name - 1);
    FakeServer server;
    InstallEcho(server);
    ChannelOptions options;
    options.connect_timeout = 5s;
    auto channel =
        Channel::Create(std::string(name) + ":" + std::to_string(server.port()), options);
    Status s = Unary(*channel);
    if (!s.ok()) MESSAGE("host name " << name << " does not reach 127.0.0.1 here: " << s);
    CHECK((s.ok() || s.code() == StatusCode::kUnavailable));
  }
  SUBCASE("an unknown name fails UNAVAILABLE") {
    ChannelOptions options;
    options.connect_timeout = 5s;
    auto channel = Channel::Create("no-such-host.invalid:4321", options);
    Status s = Unary(*channel);
    CHECK(s.code() == StatusCode::kUnavailable);
    CHECK(s.message().find("no-such-host.invalid") != std::string::npos);
  }
  SUBCASE("a bad target fails calls UNAVAILABLE") {
    auto channel = Channel::Create("no-port-here");
    Status s = Unary(*channel);
    CHECK(s.code() == StatusCode::kUnavailable);
    CHECK(s.message().find("no-port-here") != std::string::npos);
  }
}

TEST_CASE("client: invalid metadata fails INTERNAL before anything is sent") {
  FakeServer server;
  InstallEcho(server);
  StreamLog log(server);
  auto channel = Channel::Create(server.target());
  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{{"Upper", "v"},
                                                                            {"bad key", "v"},
                                                                            {"x-ok", "line\nbreak"},
                                                                            {"grpc-reserved", "v"},
                                                                            {"", "v"}}) {
    CAPTURE(key);
    ClientContext context;
    context.AddMetadata(key, value);
    std::string reply;
    CHECK(channel->UnaryCall(context, "/test.Echo/Unary", "x", &reply).code() ==
          StatusCode::kInternal);
    ClientContext streaming_context;
    streaming_context.AddMetadata(key, value);
    auto call = channel->StartCall(streaming_context, "/test.Echo/Bidi");
    CHECK_FALSE(call->Write("x"));
    CHECK(call->Finish().code() == StatusCode::kInternal);
  }
  CHECK(Unary(*channel).ok());  // the channel is fine
  CHECK(log.size() == 1);       // and only that call reached the server
}

TEST_CASE("client: request metadata over the server's MAX_HEADER_LIST_SIZE fails before sending") {
  FakeServer::Options o;
  o.max_header_list_size = 4096;
  FakeServer server(o);
  InstallEcho(server);
  StreamLog log(server);
  auto channel = Channel::Create(server.target());
  CHECK(Unary(*channel).ok());  // connected: the server's SETTINGS are known
  ClientContext context;
  context.AddMetadata("x-big", std::string(5000, 'v'));
  std::string reply;
  Status s = channel->UnaryCall(context, "/test.Echo/Unary", "x", &reply);
  CHECK(s.code() == StatusCode::kInternal);
  CHECK(s.message().find("4096") != std::string::npos);
  CHECK(log.size() == 1);
  CHECK(Unary(*channel).ok());
}

TEST_CASE("client: metadata from the server, initial and trailing, -bin decoded") {
  FakeServer server;
  const std::string binary("\x00\x01\xfe\xff", 4);
  server.on_end = [&](Stream& s) {
    server.SendOkHeaders(s, {{"x-initial", "one"},
                             {"x-initial", "two"},
                             {"x-blob-bin", codec::Base64EncodeUnpadded(binary)},
                             // two values joined by a proxy, one of them padded
                             {"x-list-bin", codec::Base64EncodeUnpadded("ab") + ", YWJj"}});
    server.SendMessage(s, "reply");
    server.SendTrailers(s, {{"grpc-status", "0"},
                            {"x-trailing", "t"},
                            {"x-trailing-bin", codec::Base64EncodeUnpadded(binary)}});
  };
  auto channel = Channel::Create(server.target());
  ClientContext context;
  std::string reply;
  REQUIRE(channel->UnaryCall(context, "/test.M/Unary", "x", &reply).ok());
  const Metadata& initial = context.GetServerInitialMetadata();
  CHECK(initial.count("x-initial") == 2);
  CHECK(initial.find("x-blob-bin")->second == binary);
  auto [first, last] = initial.equal_range("x-list-bin");
  std::vector<std::string> list;
  for (auto it = first; it != last; ++it) list.push_back(it->second);
  CHECK(list == std::vector<std::string>{"ab", "abc"});
  CHECK(initial.count("content-type") == 0);  // reserved headers are not metadata
  const Metadata& trailing = context.GetServerTrailingMetadata();
  CHECK(trailing.find("x-trailing")->second == "t");
  CHECK(trailing.find("x-trailing-bin")->second == binary);
  CHECK(trailing.count("grpc-status") == 0);

  SUBCASE("streaming: initial metadata before the first message") {
    server.RunOnServer([&] {
      server.on_headers = [&](Stream& s) { server.SendOkHeaders(s, {{"x-early", "yes"}}); };
      server.on_end = [&](Stream& s) { server.SendStatus(s, 0); };
    });
    ClientContext streaming;
    auto call = channel->StartCall(streaming, "/test.M/Bidi");
    REQUIRE(call->WaitForInitialMetadata());
    CHECK(streaming.GetServerInitialMetadata().find("x-early")->second == "yes");
    call->WritesDone();
    std::string m;
    CHECK_FALSE(call->Read(&m));
    CHECK(call->Finish().ok());
  }
}

TEST_CASE("client: every status code, with a non-ASCII message, round-trips") {
  FakeServer server;
  const std::string message = "héllo wörld — 100% \"quoted\"\nline two \xF0\x9F\x98\x80";
  std::atomic<int> code_to_send{0};
  server.on_end = [&](Stream& s) {
    server.SendOkHeaders(s);
    server.SendStatus(s, code_to_send.load(), codec::PercentEncode(message));
  };
  auto channel = Channel::Create(server.target());
  for (int code = 1; code < kStatusCodeCount; ++code) {
    CAPTURE(code);
    code_to_send = code;
    Status s = Unary(*channel);
    CHECK(s.error_code() == code);
    CHECK(s.message() == message);
  }
  SUBCASE("and in a Trailers-Only response") {
    server.RunOnServer([&] {
      server.on_end = [&](Stream& s) {
        server.SendHeaders(s,
                           {{":status", "200"},
                            {"content-type", "application/grpc"},
                            {"grpc-status", "5"},
                            {"grpc-message", codec::PercentEncode(message)},
                            {"x-only", "t"}},
                           /*end_stream=*/true);
      };
    });
    ClientContext context;
    Status s = Unary(*channel, "x", nullptr, &context);
    CHECK(s.code() == StatusCode::kNotFound);
    CHECK(s.message() == message);
    CHECK(context.GetServerTrailingMetadata().find("x-only")->second == "t");
    CHECK(context.GetServerInitialMetadata().empty());
  }
}

TEST_CASE("client: responses that are not valid gRPC") {
  FakeServer server;
  std::function<void(Stream&)> respond;
  server.on_end = [&](Stream& s) { respond(s); };
  auto channel = Channel::Create(server.target());
  SUBCASE(":status 503 without grpc-status → UNAVAILABLE") {
    respond = [&](Stream& s) {
      server.SendHeaders(s, {{":status", "503"}, {"content-type", "text/html"}}, true);
    };
    CHECK(Unary(*channel).code() == StatusCode::kUnavailable);
  }
  SUBCASE(":status 404 with a body → UNIMPLEMENTED, stream reset") {
    respond = [&](Stream& s) {
      server.SendHeaders(s, {{":status", "404"}, {"content-type", "text/plain"}});
      server.SendRaw(s, "not found");
    };
    CHECK(Unary(*channel).code() == StatusCode::kUnimplemented);
  }
  SUBCASE("malformed grpc-status → UNKNOWN") {
    for (std::string bad : {"abc", "-1", "99", "", "0x1", "+0"}) {
      CAPTURE(bad);
      server.RunOnServer([&, bad] {
        respond = [&, bad](Stream& s) {
          server.SendOkHeaders(s);
          server.SendMessage(s, "m");
          server.SendTrailers(s, {{"grpc-status", bad}});
        };
      });
      CHECK(Unary(*channel).code() == StatusCode::kUnknown);
    }
  }
  SUBCASE("trailers without grpc-status → UNKNOWN") {
    respond = [&](Stream& s) {
      server.SendOkHeaders(s);
      server.SendMessage(s, "m");
      server.SendTrailers(s, {{"x-other", "1"}});
    };
    CHECK(Unary(*channel).code() == StatusCode::kUnknown);
  }
  SUBCASE("END_STREAM on DATA, no trailers → INTERNAL") {
    respond = [&](Stream& s) {
      server.SendOkHeaders(s);
      server.SendMessage(s, "m");
      server.EndWithoutTrailers(s);
    };
    Status st = Unary(*channel);
    CHECK(st.code() == StatusCode::kInternal);
  }
  SUBCASE("compressed flag without grpc-encoding → INTERNAL") {
    respond = [&](Stream& s) {
      server.SendOkHeaders(s);
      server.SendMessage(s, "not really compressed", /*compressed_flag=*/true);
      server.SendStatus(s, 0);
    };
    CHECK(Unary(*channel).code() == StatusCode::kInternal);
  }
  SUBCASE("a message cut short by the trailers → INTERNAL") {
    respond = [&](Stream& s) {
      server.SendOkHeaders(s);
      server.SendRaw(s, Frame("complete message").substr(0, 8));
      server.SendStatus(s, 0);
    };
    CHECK(Unary(*channel).code() == StatusCode::kInternal);
  }
  SUBCASE("OK without a response message on a unary call → INTERNAL") {
    respond = [&](Stream& s) { server.SendStatus(s, 0); };
    CHECK(Unary(*channel).code() == StatusCode::kInternal);
  }
  SUBCASE("two response messages on a unary call → INTERNAL") {
    respond = [&](Stream& s) {
      server.SendMessage(s, "one");
      server.SendMessage(s, "two");
      server.SendStatus(s, 0);
    };
    CHECK(Unary(*channel).code() == StatusCode::kInternal);
  }
  SUBCASE("response metadata over the header list limit → RESOURCE_EXHAUSTED, connection kept") {
    respond = [&](Stream& s) {
      server.SendOkHeaders(s, {{"x-huge", std::string(9000, 'a')}});
      server.SendMessage(s, "m");
      server.SendStatus(s, 0);
    };
    CHECK(Unary(*channel).code() == StatusCode::kResourceExhausted);
    server.RunOnServer([&] {
      respond = [&](Stream& s) {
        server.SendMessage(s, "m");
        server.SendStatus(s, 0);
      };
    });
    CHECK(Unary(*channel).ok());
    CHECK(server.connections_accepted() == 1);
  }
}

TEST_CASE("client: RST_STREAM from the server maps to a status") {
  FakeServer server;
  std::atomic<uint32_t> reset_code{0};
  server.on_end = [&](Stream& s) { server.Reset(s, reset_code.load()); };
  auto channel = Channel::Create(server.target());
  const std::vector<std::pair<uint32_t, StatusCode>> table = {
      {NGHTTP2_REFUSED_STREAM, StatusCode::kUnavailable},
      {NGHTTP2_CANCEL, StatusCode::kCancelled},
      {NGHTTP2_ENHANCE_YOUR_CALM, StatusCode::kResourceExhausted},
      {NGHTTP2_INADEQUATE_SECURITY, StatusCode::kPermissionDenied},
      {NGHTTP2_PROTOCOL_ERROR, StatusCode::kInternal},
      {NGHTTP2_INTERNAL_ERROR, StatusCode::kInternal},
      {NGHTTP2_FLOW_CONTROL_ERROR, StatusCode::kInternal},
      {NGHTTP2_NO_ERROR, StatusCode::kInternal},
  };
  for (auto [code, expected] : table) {
    CAPTURE(code);
    reset_code = code;
    CHECK(Unary(*channel).code() == expected);
  }
}

TEST_CASE("client: deadlines") {
  FakeServer server;
  StreamLog log(server);  // never answers
  auto channel = Channel::Create(server.target());
  SUBCASE("a silent server: DEADLINE_EXCEEDED on time, then RST_STREAM(CANCEL)") {
    ClientContext context;
    context.set_timeout(200ms);
    const auto start = std::chrono::steady_clock::now();
    Status s = Unary(*channel, "x", nullptr, &context);
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(s.code() == StatusCode::kDeadlineExceeded);
    CHECK(took >= 190ms);
    CHECK(took < 1500ms);
    REQUIRE(log.size() == 1);
    CHECK(WaitFor([&] { return server.Locked([&] { return log.streams[0]->reset_by_client; }); }));
    CHECK(server.Locked([&] { return log.streams[0]->client_reset_code; }) == NGHTTP2_CANCEL);
  }
  SUBCASE("an expired deadline fails without sending anything") {
    ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() - 1s);
    CHECK(Unary(*channel, "x", nullptr, &context).code() == StatusCode::kDeadlineExceeded);
    ClientContext streaming;
    streaming.set_timeout(0ns);
    auto call = channel->StartCall(streaming, "/test.S/Bidi");
    CHECK_FALSE(call->Write("x"));
    CHECK(call->Finish().code() == StatusCode::kDeadlineExceeded);
    std::this_thread::sleep_for(20ms);
    CHECK(log.size() == 0);
  }
  SUBCASE("mid-stream: a blocked Read returns false, Finish says DEADLINE_EXCEEDED") {
    log.then = [&](Stream& s) { server.SendMessage(s, "first"); };
    ClientContext context;
    context.set_timeout(150ms);
    auto call = channel->StartCall(context, "/test.S/Bidi");
    std::string m;
    CHECK(call->Read(&m));
    CHECK(m == "first");
    CHECK_FALSE(call->Read(&m));
    CHECK(call->Finish().code() == StatusCode::kDeadlineExceeded);
  }
  SUBCASE("the server's RST_STREAM(CANCEL) after our deadline is DEADLINE_EXCEEDED") {
    log.then = [&](Stream& s) {
      server.PostAfter(60ms, [&server, &s] { server.Reset(s, NGHTTP2_CANCEL); });
    };
    ClientContext context;
    context.set_timeout(50ms);
    CHECK(Unary(*channel, "x", nullptr, &context).code() == StatusCode::kDeadlineExceeded);
  }
}

TEST_CASE("client: calls waiting for a stream slot end by their deadline or cancel") {
  FakeServer::Options o;
  o.max_concurrent_streams = 1;
  FakeServer server(o);
  StreamLog log(server);  // holds the first call open
  auto channel = Channel::Create(server.target());
  ClientContext holder_context;
  auto holder = channel->StartCall(holder_context, "/test.Slot/Hold");
  REQUIRE(holder->Write("x"));
  REQUIRE(WaitFor([&] { return log.size() == 1; }));
  {
    ClientContext context;
    context.set_timeout(100ms);
    CHECK(Unary(*channel, "x", nullptr, &context).code() == StatusCode::kDeadlineExceeded);
  }
  {
    ClientContext context;
    std::thread canceller([&] {
      std::this_thread::sleep_for(50ms);
      context.TryCancel();
    });
    CHECK(Unary(*channel, "x", nullptr, &context).code() == StatusCode::kCancelled);
    canceller.join();
  }
  // Many waiters expire together, in and out of order with their start.
  std::vector<std::thread> waiters;
  std::atomic<int> expired{0};
  for (int i = 0; i < 20; ++i) {
    waiters.emplace_back([&, i] {
      ClientContext context;
      context.set_timeout(std::chrono::milliseconds(20 + (i * 7) % 60));
      if (Unary(*channel, "x", nullptr, &context).code() == StatusCode::kDeadlineExceeded) {
        expired.fetch_add(1);
      }
    });
  }
  for (auto& t : waiters) t.join();
  CHECK(expired == 20);
  CHECK(log.size() == 1);  // none of them reached the server
  // Free the slot: the next call goes through.
  server.RunOnServer([&] {
    InstallEcho(server);
    server.SendStatus(*log.streams[0], 0);
  });
  CHECK(holder->Finish().ok());
  CHECK(Unary(*channel).ok());
}

TEST_CASE("client: cancellation") {
  FakeServer server;
  StreamLog log(server);  // never answers
  auto channel = Channel::Create(server.target());
  SUBCASE("TryCancel from another thread while a Read blocks") {
    ClientContext context;
    auto call = channel->StartCall(context, "/test.C/Bidi");
    REQUIRE(call->Write("x"));
    REQUIRE(WaitFor([&] { return log.size() == 1; }));
    std::thread canceller([&] {
      std::this_thread::sleep_for(30ms);
      context.TryCancel();
    });
    std::string m;
    CHECK_FALSE(call->Read(&m));
    canceller.join();
    CHECK_FALSE(call->Write("y"));
    Status s = call->Finish();
    CHECK(s.code() == StatusCode::kCancelled);
    CHECK(WaitFor([&] { return server.Locked([&] { return log.streams[0]->reset_by_client; }); }));
    CHECK(server.Locked([&] { return log.streams[0]->client_reset_code; }) == NGHTTP2_CANCEL);
  }
  SUBCASE("TryCancel on a unary call from another thread") {
    ClientContext context;
    std::thread canceller([&] {
      WaitFor([&] { return log.size() == 1; });
      context.TryCancel();
    });
    CHECK(Unary(*channel, "x", nullptr, &context).code() == StatusCode::kCancelled);
    canceller.join();
  }
  SUBCASE("TryCancel before the call starts: nothing is sent") {
    ClientContext context;
    context.TryCancel();
    CHECK(Unary(*channel, "x", nullptr, &context).code() == StatusCode::kCancelled);
    std::this_thread::sleep_for(20ms);
    CHECK(log.size() == 0);
  }
  SUBCASE("destroying an unfinished ClientCall cancels it") {
    {
      ClientContext context;
      auto call = channel->StartCall(context, "/test.C/Bidi");
      call->Write("x");
      REQUIRE(WaitFor([&] { return log.size() == 1; }));
    }
    CHECK(WaitFor([&] { return server.Locked([&] { return log.streams[0]->reset_by_client; }); }));
  }
  SUBCASE("the server cancels mid-stream") {
    log.then = [&](Stream& s) {
      server.SendMessage(s, "a");
      server.PostAfter(20ms, [&server, &s] { server.Reset(s, NGHTTP2_CANCEL); });
    };
    ClientContext context;
    auto call = channel->StartCall(context, "/test.C/Bidi");
    std::string m;
    CHECK(call->Read(&m));
    CHECK_FALSE(call->Read(&m));
    CHECK(call->Finish().code() == StatusCode::kCancelled);
  }
}

TEST_CASE("client: the server's status before the client finished sending") {
  FakeServer server;
  StreamLog log(server);
  server.on_data = [&](Stream& s) {
    // Answer after the first message, while the client is still streaming.
    if (server.Locked([&] { return s.TakeMessages(); }).empty()) return;
    if (server.Locked([&] { return s.response_started; })) return;
    server.SendMessage(s, "early");
    server.SendStatus(s, 9, "stop sending");
  };
  auto channel = Channel::Create(server.target());
  ClientContext context;
  auto call = channel->StartCall(context, "/test.T/ClientStream");
  REQUIRE(call->Write("first"));
  std::string m;
  REQUIRE(call->Read(&m));
  CHECK(m == "early");
  CHECK_FALSE(call->Read(&m));
  CHECK_FALSE(call->Write("second"));
  Status s = call->Finish();
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(s.message() == "stop sending");
  // PROTOCOL-HTTP2.md: the client stops sending and resets with NO_ERROR.
  REQUIRE(
      WaitFor([&] { return server.Locked([&] { return log.streams.at(0)->reset_by_client; }); }));
  CHECK(server.Locked([&] { return log.streams[0]->client_reset_code; }) == NGHTTP2_NO_ERROR);
}

TEST_CASE(
    "client: GOAWAY — streams above last_stream_id move to a new connection, the rest "
    "complete") {
  FakeServer server;
  StreamLog log(server);
  auto channel = Channel::Create(server.target());
  ClientContext c1, c2, c3;
  auto call1 = channel->StartCall(c1, "/test.G/Bidi");
  auto call2 = channel->StartCall(c2, "/test.G/Bidi");
  auto call3 = channel->StartCall(c3, "/test.G/Bidi");
  for (auto* call : {call1.get(), call2.get(), call3.get()}) REQUIRE(call->Write("x"));
  REQUIRE(WaitFor([&] { return log.size() == 3; }));
  Stream* s1 = log.at(0);
  Stream* s2 = log.at(1);
  CHECK(s1->id < s2->id);
  server.Post([&] {
    server.Goaway(*s1->connection, NGHTTP2_NO_ERROR, s2->id);
    server.SendMessage(*s1, "one");
    server.SendStatus(*s1, 0);
  });
  // The server never processed call 3: it starts again on a new connection, with its message.
  REQUIRE(WaitFor([&] { return log.size() == 4; }));
  Stream* s3 = log.at(3);
  CHECK(s3->connection != s1->connection);
  REQUIRE(
      WaitFor([&] { return server.Locked([&] { return s3->body_bytes; }) == Frame("x").size(); }));
  CHECK(server.Locked([&] { return s3->TakeMessages(); }) == std::vector<std::string>{"x"});
  server.Post([&] {
    server.SendMessage(*s3, "three");
    server.SendStatus(*s3, 0);
  });
  std::string m;
  CHECK(call3->Read(&m));
  CHECK(m == "three");
  CHECK(call3->Finish().ok());
  CHECK(call1->Read(&m));
  CHECK(m == "one");
  CHECK(call1->Finish().ok());
  // A new call goes to a new connection while stream 2 still runs on the old one.
  server.RunOnServer([&] { InstallEcho(server); });
  CHECK(Unary(*channel).ok());
  CHECK(server.connections_accepted() == 2);
  server.Post([&] {
    server.SendMessage(*s2, "two");
    server.SendStatus(*s2, 0);
  });
  CHECK(call2->Read(&m));
  CHECK(m == "two");
  call2->WritesDone();
  CHECK(call2->Finish().ok());
}

TEST_CASE("client: the server vanishes mid-call → UNAVAILABLE, the next call reconnects") {
  FakeServer server;
  StreamLog log(server);
  auto channel = Channel::Create(server.target());
  ClientContext context;
  auto call = channel->StartCall(context, "/test.V/Bidi");
  REQUIRE(call->Write("x"));
  REQUIRE(WaitFor([&] { return log.size() == 1; }));
  server.Post([&] { server.DropConnections(); });
  std::string m;
  CHECK_FALSE(call->Read(&m));
  Status s = call->Finish();
  CHECK(s.code() == StatusCode::kUnavailable);
  CHECK_FALSE(s.message().empty());
  server.RunOnServer([&] {
    InstallEcho(server);
    log.then = nullptr;
  });
  CHECK(Unary(*channel).ok());
  CHECK(server.connections_accepted() == 2);
}

TEST_CASE("client: message size limits") {
  FakeServer server;
  InstallEcho(server);
  StreamLog log(server);
  ChannelOptions options;
  SUBCASE("receive: exactly the max passes, max + 1 is RESOURCE_EXHAUSTED") {
    auto channel = Channel::Create(server.target(), options);
    const std::string max(options.max_receive_message_size, 'm');
    std::string reply;
    CHECK(Unary(*channel, max, &reply).ok());
    CHECK(reply == max);
    Status s = Unary(*channel, max + "!");
    CHECK(s.code() == StatusCode::kResourceExhausted);
    // The client reset the stream it refused.
    CHECK(
        WaitFor([&] { return server.Locked([&] { return log.streams.at(1)->reset_by_client; }); }));
  }
  SUBCASE("send: over the max is RESOURCE_EXHAUSTED before anything is sent") {
    options.max_send_message_size = 1000;
    auto channel = Channel::Create(server.target(), options);
    CHECK(Unary(*channel, std::string(1000, 'x')).ok());
    CHECK(Unary(*channel, std::string(1001, 'x')).code() == StatusCode::kResourceExhausted);
    ClientContext context;
    auto call = channel->StartCall(context, "/test.L/Bidi");
    CHECK(call->Write(std::string(1000, 'x')));
    CHECK_FALSE(call->Write(std::string(1001, 'x')));
    CHECK(call->Finish().code() == StatusCode::kResourceExhausted);
    // The refused message never reached the server (the stream may not have either).
    std::this_thread::sleep_for(20ms);
    server.Locked([&] {
      for (Stream* stream : log.streams) CHECK(stream->body_bytes <= 1005);
      return 0;
    });
  }
}

TEST_CASE("client: large messages in tiny DATA frames on many streams at once arrive exact") {
  // A server that spreads large messages thin: 97-byte DATA frames, six streams interleaved, so
  // each socket read holds a little of every message. The client keeps large payloads as
  // references into its read buffers while that costs little memory and copies them when it
  // would cost much; either way every byte must land in its own message, in order.
  FakeServer::Options options;
  options.max_data_frame = 97;
  FakeServer server(options);
  auto message = [](int32_t stream_id, int index) {
    std::string m((index == 0 ? 300 : 70) * 1024 + stream_id, 'a');
    for (size_t i = 0; i < m.size(); i += 1000)
      m[i] = static_cast<char>('A' + (stream_id + i) % 26);
    m.back() = static_cast<char>('0' + index);
    return m;
  };
  server.on_end = [&server, &message](Stream& s) {
    server.SendOkHeaders(s);
    server.SendMessage(s, message(s.id, 0));
    server.SendMessage(s, message(s.id, 1));
    server.SendStatus(s, 0);
  };
  StreamLog log(server);
  auto channel = Channel::Create(server.target());
  constexpr int kCalls = 6;
  std::atomic<int> failures{0};
  std::vector<std::thread> callers;
  std::atomic<int> ready{0};
  for (int c = 0; c < kCalls; ++c) {
    callers.emplace_back([&] {
      ClientContext context;
      auto call = channel->StartCall(context, "/test.Big/Stream");
      call->WritesDone();
      ++ready;
      std::vector<std::string> got(2);
      const bool read_both = call->Read(&got[0]) && call->Read(&got[1]);
      std::string extra;
      const bool no_more = !call->Read(&extra);
      const Status status = call->Finish();
      if (!read_both || !no_more || !status.ok()) {
        MESSAGE("call failed: " << status.ToString());
        ++failures;
        return;
      }
      // The stream id is not known here; find the one whose messages these are.
      bool matched = false;
      for (int32_t id = 1; id < 2 * kCalls + 2 && !matched; id += 2) {
        matched = got[0] == message(id, 0) && got[1] == message(id, 1);
      }
      if (!matched) {
        MESSAGE("messages of " << got[0].size() << " and " << got[1].size()
                               << " bytes match no stream's");
        ++failures;
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  CHECK(failures.load() == 0);
  CHECK(log.size() == kCalls);
}

TEST_CASE("client: a stream reset or a connection lost inside a large message ends the call") {
  FakeServer server;
  const std::string half = Frame(std::string(1 << 20, 'h')).substr(0, 600 * 1024);
  std::function<void(Stream&)> cut_off;  // server thread: how it ends the stream after `half`
  server.on_end = [&server, &half, &cut_off](Stream& s) {
    server.SendOkHeaders(s);
    server.SendRaw(s, half);
    server.PostAfter(50ms, [&cut_off, &s] { cut_off(s); });
  };
  auto channel = Channel::Create(server.target());
  // A server-streaming call that gets no whole message; returns its status code.
  auto call_cut_off = [&] {
    ClientContext context;
    auto call = channel->StartCall(context, "/test.Big/Stream");
    call->WritesDone();
    std::string m;
    CHECK_FALSE(call->Read(&m));
    return call->Finish().code();
  };
  SUBCASE("RST_STREAM") {
    server.RunOnServer(
        [&] { cut_off = [&server](Stream& s) { server.Reset(s, NGHTTP2_INTERNAL_ERROR); }; });
    CHECK(call_cut_off() == StatusCode::kInternal);
    // The connection lives on: the next call on it gets its own bytes and the same end.
    CHECK(call_cut_off() == StatusCode::kInternal);
    CHECK(server.connections_accepted() == 1);
  }
  SUBCASE("connection dropped") {
    server.RunOnServer([&] { cut_off = [&server](Stream&) { server.DropConnections(); }; });
    CHECK(call_cut_off() == StatusCode::kUnavailable);
  }
}

TEST_CASE("client: compression both ways") {
  FakeServer server;
  StreamLog log(server);
  std::vector<bool> flags;
  std::vector<std::string> received;
  server.on_end = [&](Stream& s) {
    server.Locked([&] {
      received = s.TakeMessages(&flags);
      return 0;
    });
    StatusOr<std::string> packed =
        codec::Compress(codec::Compression::kGzip, std::string(5000, 'r'));
    server.SendOkHeaders(s, {{"grpc-encoding", "gzip"}});
    server.SendMessage(s, *packed, /*compressed_flag=*/true);
    server.SendStatus(s, 0);
  };
  auto channel = Channel::Create(server.target());
  ClientContext context;
  context.set_compression_algorithm(Compression::kGzip);
  std::string reply;
  REQUIRE(channel->UnaryCall(context, "/test.Z/Unary", std::string(3000, 'q'), &reply).ok());
  CHECK(reply == std::string(5000, 'r'));
  CHECK(context.last_message_compressed());
  CHECK(server.Locked([&] { return log.streams[0]->Header("grpc-encoding"); }) == "gzip");
  REQUIRE(received.size() == 1);
  CHECK(flags[0]);
  StatusOr<std::string> plain = codec::Decompress(codec::Compression::kGzip, received[0], 1 << 20);
  REQUIRE(plain.ok());
  CHECK(*plain == std::string(3000, 'q'));

  SUBCASE("channel default, and a message sent uncompressed on request") {
    ChannelOptions options;
    options.default_compression = Compression::kDeflate;
    auto deflating = Channel::Create(server.target(), options);
    server.RunOnServer([&] {
      server.on_end = [&](Stream& s) {
        server.Locked([&] {
          flags.clear();
          received = s.TakeMessages(&flags);
          return 0;
        });
        server.SendMessage(s, "plain");
        server.SendStatus(s, 0);
      };
    });
    ClientContext streaming;
    auto call = deflating->StartCall(streaming, "/test.Z/Bidi");
    CHECK(call->Write("packed"));
    WriteOptions no_compression;
    no_compression.no_compression = true;
    CHECK(call->Write("as is", no_compression));
    CHECK(call->WritesDone());
    std::string m;
    CHECK(call->Read(&m));
    CHECK_FALSE(streaming.last_message_compressed());
    CHECK(call->Finish().ok());
    CHECK(server.Locked([&] { return log.streams.back()->Header("grpc-encoding"); }) == "deflate");
    REQUIRE(flags.size() == 2);
    CHECK(flags[0]);
    CHECK_FALSE(flags[1]);
    CHECK(received[1] == "as is");
  }
}

TEST_CASE("client: Write() blocks once the send budget is queued, until the call ends") {
  FakeServer::Options o;
  o.initial_window_size = 64 * 1024;
  o.return_window = false;  // the server never reads: only 64 KiB can leave the client
  FakeServer server(o);
  StreamLog log(server);
  ChannelOptions options;
  options.stream_send_budget = 256 * 1024;
  auto channel = Channel::Create(server.target(), options);
  const std::string chunk(32 * 1024, 'b');

  SUBCASE("ended by TryCancel") {
    ClientContext context;
    auto call = channel->StartCall(context, "/test.W/ClientStream");
    std::atomic<int> written{0};
    std::thread writer([&] {
      while (call->Write(chunk)) written.fetch_add(1);
    });
    // It stalls: window (64 KiB) + budget (256 KiB) + the one message that crossed it.
    REQUIRE(WaitFor([&] { return written.load() >= 8; }));
    std::this_thread::sleep_for(200ms);
    const int stalled = written.load();
    CHECK(stalled <= (64 + 256) / 32 + 2);
    std::this_thread::sleep_for(100ms);
    CHECK(written.load() == stalled);
    context.TryCancel();
    writer.join();  // the blocked Write returned false
    CHECK(call->Finish().code() == StatusCode::kCancelled);
  }
  SUBCASE("ended by the deadline") {
    ClientContext context;
    context.set_timeout(300ms);
    auto call = channel->StartCall(context, "/test.W/ClientStream");
    int written = 0;
    while (call->Write(chunk)) ++written;
    CHECK(written <= (64 + 256) / 32 + 2);
    CHECK(call->Finish().code() == StatusCode::kDeadlineExceeded);
  }
}

TEST_CASE("client: a response in an encoding we do not support fails the call") {
  FakeServer server;
  server.on_end = [&](Stream& s) {
    server.SendOkHeaders(s, {{"grpc-encoding", "snappy"}});
    server.SendMessage(s, "??", /*compressed_flag=*/true);
    server.SendStatus(s, 0);
  };
  auto channel = Channel::Create(server.target());
  Status s = Unary(*channel);
  CHECK_FALSE(s.ok());
  CHECK((s.code() == StatusCode::kUnimplemented || s.code() == StatusCode::kInternal));
}

#if !defined(NDEBUG) && !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
TEST_CASE("client: two concurrent readers on one call trip the debug assertion") {
  // In a child process: the assertion aborts it.
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Die of the abort itself (not doctest's crash report), quietly.
    std::signal(SIGABRT, SIG_DFL);
    freopen("/dev/null", "w", stderr);
    FakeServer server;  // never answers
    auto channel = Channel::Create(server.target());
    ClientContext context;
    auto call = channel->StartCall(context, "/test.A/Bidi");
    std::thread first([&] {
      std::string m;
      call->Read(&m);
    });
    std::this_thread::sleep_for(100ms);
    std::string m;
    call->Read(&m);  // the second reader: abort()
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
}
#endif

TEST_CASE("client: a slow reader holds the server to the stream window") {
  FakeServer server;
  constexpr int kMessages = 256;
  const std::string chunk(64 * 1024, 'w');
  server.on_end = [&](Stream& s) {
    for (int i = 0; i < kMessages; ++i) server.SendMessage(s, std::to_string(i) + ":" + chunk);
    server.SendStatus(s, 0);
  };
  ChannelOptions options;  // 4 MiB stream window, consume threshold = window / 2
  auto channel = Channel::Create(server.target(), options);
  ClientContext context;
  auto call = channel->StartCall(context, "/test.F/ServerStream");
  REQUIRE(call->Write("go"));
  REQUIRE(call->WritesDone());
  // Read nothing: the server gets a window's worth (plus what we let through while the
  // unread bytes were under the threshold), then must stall.
  REQUIRE(WaitFor([&] { return server.total_data_bytes_sent() >= options.stream_window; }, 20s));
  std::this_thread::sleep_for(200ms);
  const size_t sent = server.total_data_bytes_sent();
  const size_t bound = options.stream_window + options.stream_window / 2 + 2 * (chunk.size() + 16);
  CHECK(sent <= bound);
  std::string m;
  for (int i = 0; i < kMessages; ++i) {
    REQUIRE(call->Read(&m));
    REQUIRE(m.substr(0, m.find(':')) == std::to_string(i));
  }
  CHECK_FALSE(call->Read(&m));
  CHECK(call->Finish().ok());
}

TEST_CASE("client: Finish() without reading does not stall a streaming server") {
  FakeServer server;
  const std::string chunk(64 * 1024, 'w');
  server.on_end = [&](Stream& s) {
    for (int i = 0; i < 200; ++i) server.SendMessage(s, chunk);  // 12.5 MiB > window
    server.SendStatus(s, 0);
  };
  auto channel = Channel::Create(server.target());
  ClientContext context;
  auto call = channel->StartCall(context, "/test.F/ServerStream");
  REQUIRE(call->Write("go"));
  REQUIRE(call->WritesDone());
  std::this_thread::sleep_for(100ms);
  CHECK(call->Finish().ok());
}

TEST_CASE("client: 1000 calls against MAX_CONCURRENT_STREAMS 100 wait for slots, ids increase") {
  FakeServer::Options o;
  o.max_concurrent_streams = 100;
  FakeServer server(o);
  server.on_end = [&](Stream& s) {
    server.PostAfter(2ms, [&server, &s] {
      server.SendMessage(s, "r");
      server.SendStatus(s, 0);
    });
  };
  auto channel = Channel::Create(server.target());
  constexpr int kCalls = 1000;
  std::vector<std::unique_ptr<ClientContext>> contexts;
  std::vector<std::unique_ptr<ClientCall>> calls;
  for (int i = 0; i < kCalls; ++i) {
    contexts.push_back(std::make_unique<ClientContext>());
    contexts.back()->set_timeout(30s);
    calls.push_back(channel->StartCall(*contexts.back(), "/test.N/Unary"));
    calls.back()->Write("q");
    calls.back()->WritesDone();
  }
  int ok = 0;
  for (auto& call : calls) {
    std::string m;
    call->Read(&m);
    Status s = call->Finish();
    if (s.ok()) {
      ++ok;
    } else {
      MESSAGE(s.ToString());
    }
  }
  CHECK(ok == kCalls);
  CHECK(server.max_open_streams_seen() <= 100);
  CHECK(server.connections_accepted() == 1);
  server.Locked([&] {
    const auto& ids = server.stream_ids_locked();
    REQUIRE(ids.size() == kCalls);
    for (size_t i = 1; i < ids.size(); ++i) REQUIRE(ids[i] > ids[i - 1]);
    return 0;
  });
}

TEST_CASE("client: connection failure, backoff, reconnect") {
  int port;
  {
    FakeServer probe;  // find a free port, then free it
    port = probe.port();
  }
  ChannelOptions options;
  options.backoff_initial = 500ms;
  options.backoff_jitter = 0;
  auto channel = Channel::Create("127.0.0.1:" + std::to_string(port), options);
  const auto first_attempt = std::chrono::steady_clock::now();
  Status first = Unary(*channel);
  CHECK(first.code() == StatusCode::kUnavailable);
  CHECK(first.message().find("127.0.0.1") != std::string::npos);
  // The server comes up, but the channel is in backoff: calls fail fast without trying
  // (wait_for_ready = false semantics).
  FakeServer::Options o;
  o.port = port;
  FakeServer server(o);
  InstallEcho(server);
  Status second = Unary(*channel);
  CHECK(second.code() == StatusCode::kUnavailable);
  CHECK(second.message().find("reconnecting in") != std::string::npos);
  CHECK(server.connections_accepted() == 0);
  // The first call after the backoff connects.
  std::this_thread::sleep_until(first_attempt + 550ms);
  CHECK(Unary(*channel).ok());
  CHECK(server.connections_accepted() == 1);
}

/// Binds `listener` to 127.0.0.1 on a free port and listens; returns the port.
int ListenOnLoopback(int listener) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&address), length) == 0);
  REQUIRE(listen(listener, 4) == 0);
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

/// accept() that gives up after `timeout` (-1): a peer thread must never outlive its test
/// because the client failed before connecting.
int AcceptWithin(int listener, std::chrono::milliseconds timeout) {
  pollfd p{listener, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return -1;
  return accept(listener, nullptr, nullptr);
}

TEST_CASE("client: a peer that does not speak HTTP/2 fails the call UNAVAILABLE at once") {
  // A plain TCP server answering like an HTTP/1.1 server would.
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int port = ListenOnLoopback(listener);
  std::thread peer([listener] {
    const int fd = AcceptWithin(listener, 10s);
    if (fd < 0) return;
    char buf[1024];
    ssize_t n = read(fd, buf, sizeof buf);  // the client preface
    (void)n;
    const char reply[] = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";
    n = write(fd, reply, sizeof reply - 1);
    close(fd);
  });
  ChannelOptions options;
  auto channel = Channel::Create("127.0.0.1:" + std::to_string(port), options);
  const auto start = std::chrono::steady_clock::now();
  Status s = Unary(*channel);
  CHECK(s.code() == StatusCode::kUnavailable);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK_MESSAGE(s.message().find("HTTP/2") != std::string::npos, s.message());
  peer.join();
  close(listener);
}

TEST_CASE("client: a peer that resets the connection before SETTINGS — UNAVAILABLE naming HTTP/2") {
  // Whether the client sees the reset on read (ECONNRESET) or on write (EPIPE), the status must
  // say the HTTP/2 handshake never completed.
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int port = ListenOnLoopback(listener);
  std::thread peer([listener] {
    const int fd = AcceptWithin(listener, 10s);
    if (fd < 0) return;
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf);  // the client is past connect(): its preface is here
    (void)n;
    const linger abort_on_close{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    close(fd);  // RST
  });
  ChannelOptions options;
  auto channel = Channel::Create("127.0.0.1:" + std::to_string(port), options);
  Status s = Unary(*channel);
  CHECK(s.code() == StatusCode::kUnavailable);
  CHECK_MESSAGE(s.message().find("before the HTTP/2 handshake completed") != std::string::npos,
                s.message());
  peer.join();
  close(listener);
}

/// HTTP/2 frames of `stream_id` and `type` in `wire` (client preface skipped), payloads joined.
std::string FramePayloads(const std::string& wire, uint8_t type, uint32_t stream_id) {
  std::string out;
  size_t at = 24;  // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
  while (at + 9 <= wire.size()) {
    const auto byte = [&](size_t i) { return static_cast<uint8_t>(wire[at + i]); };
    const size_t length = (size_t{byte(0)} << 16) | (size_t{byte(1)} << 8) | byte(2);
    const uint32_t id = ((uint32_t{byte(5)} & 0x7f) << 24) | (uint32_t{byte(6)} << 16) |
                        (uint32_t{byte(7)} << 8) | byte(8);
    if (at + 9 + length > wire.size()) break;  // cut off by the end of the capture
    if (byte(3) == type && id == stream_id) {
      size_t begin = at + 9, end = begin + length;
      if (byte(4) & 0x8) end -= static_cast<uint8_t>(wire[begin++]);  // PADDED
      out.append(wire, begin, end - begin);
    }
    at += 9 + length;
  }
  return out;
}

TEST_CASE("client: a call reset while the socket is full still sends its own bytes") {
  // A peer that grants every flow-control window and then stops reading the socket: the first
  // call's DATA frames are still queued in the client (referencing its request buffer) when its
  // deadline resets the stream. The second call, of the same size, must not be handed that
  // buffer and write its bytes over ones the first stream has yet to send.
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int small = 4096;  // accepted sockets inherit it: the peer's kernel buffers little
  setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  const int port = ListenOnLoopback(listener);
  std::atomic<bool> drain{false};
  std::string wire;
  std::thread peer([&] {
    const int fd = AcceptWithin(listener, 10s);
    if (fd < 0) return;
    const uint8_t greeting[] = {
        0,    0,    6,    0x4,  0,    0,    0, 0, 0,  // SETTINGS, 6 bytes
        0,    0x4,  0x7f, 0xff, 0xff, 0xff,           // INITIAL_WINDOW_SIZE 2^31-1
        0,    0,    4,    0x8,  0,    0,    0, 0, 0,  // WINDOW_UPDATE, connection
        0x7f, 0xff, 0x00, 0x00,  // + 2^31-65536: the connection window near 2^31-1
    };
    ssize_t n = write(fd, greeting, sizeof greeting);
    (void)n;
    while (!drain.load()) std::this_thread::sleep_for(1ms);
    char buf[65536];
    for (;;) {  // everything the client has queued, until it goes quiet
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 1000) <= 0) break;
      n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      wire.append(buf, static_cast<size_t>(n));
    }
    close(fd);
  });
  const size_t size = 6 * 1024 * 1024;  // more than loopback buffers hold (tcp_wmem max 4 MiB)
  auto channel = Channel::Create("127.0.0.1:" + std::to_string(port));
  // The deadlines must bound only the sending: connect first and build the requests first.
  // Under TSan, filling 6 MiB takes ~0.2 s and framing it another ~0.2 s on a 2-core machine;
  // a call whose deadline passes before that never reaches the peer.
  REQUIRE(channel->WaitForConnected(std::chrono::system_clock::now() + 10s));
  for (char fill : {'A', 'B'}) {
    const std::string request(size, fill);
    ClientContext context;
    context.set_timeout(1500ms);
    CHECK(Unary(*channel, request, nullptr, &context).code() == StatusCode::kDeadlineExceeded);
  }
  drain = true;
  peer.join();
  close(listener);
  const std::string first = FramePayloads(wire, 0x0, 1);
  const std::string second = FramePayloads(wire, 0x0, 3);
  REQUIRE(first.size() > 5);
  CHECK(first.size() < size + 5);  // reset before it was all sent: the case under test
  CHECK(first.find_first_not_of('A', 5) == std::string::npos);
  CHECK(second.find_first_not_of('B', 5) == std::string::npos);
  CHECK(FramePayloads(wire, 0x3, 1).size() == 4);  // and RST_STREAM followed
}

TEST_CASE("client: destroying the Channel ends outstanding calls") {
  FakeServer server;
  StreamLog log(server);
  auto channel = Channel::Create(server.target());
  ClientContext context;
  auto call = channel->StartCall(context, "/test.D/Bidi");
  REQUIRE(call->Write("x"));
  REQUIRE(WaitFor([&] { return log.size() == 1; }));
  std::atomic<bool> read_returned{false};
  std::thread reader([&] {
    std::string m;
    CHECK_FALSE(call->Read(&m));
    read_returned = true;
  });
  std::this_thread::sleep_for(20ms);
  channel.reset();
  reader.join();
  CHECK(read_returned);
  // The call outlives its channel: every operation still returns, nothing crashes.
  CHECK_FALSE(call->Write("y"));
  CHECK_FALSE(call->WritesDone());
  Status s = call->Finish();
  CHECK(s.code() == StatusCode::kCancelled);
}

}  // namespace
}  // namespace h2rpc::testing
