// Generated code end to end (issue #4): the exact shape of the generated API, then every call
// kind through generated stubs against an h2rpc server serving generated Service subclasses.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "codegen_test.h2rpc.h"
#include "no_package.h2rpc.h"
#include "rpc/server.h"

namespace {

namespace v1 = ::codegen::h2rpc::v1;
namespace common = ::codegen::common;
using v1::Envelope;
using Header = v1::Envelope_Header;

// ---- The generated API's shape (grpc++'s habits; docs and users rely on it) ----------------

static_assert(std::string_view(v1::Echo::kServiceName) == "codegen.h2rpc.v1.Echo");
static_assert(std::string_view(v1::Echo::service_full_name()) == "codegen.h2rpc.v1.Echo");
static_assert(std::string_view(v1::Echo::kSayMethod) == "/codegen.h2rpc.v1.Echo/Say");
static_assert(std::string_view(v1::Echo::kChatMethod) == "/codegen.h2rpc.v1.Echo/Chat");
// Keyword method names keep their proto spelling on the wire.
static_assert(std::string_view(v1::Keywords::kdeleteMethod) == "/codegen.h2rpc.v1.Keywords/delete");
static_assert(std::string_view(v1::Keywords::kStubMethod) == "/codegen.h2rpc.v1.Keywords/Stub");
static_assert(std::string_view(::Service_::kPingMethod) == "/Service/Ping");

using EchoStub = v1::Echo::Stub;
static_assert(std::is_same_v<decltype(v1::Echo::NewStub(nullptr)), std::unique_ptr<EchoStub>>);
static_assert(std::is_same_v<decltype(&EchoStub::Say),
                             h2rpc::Status (EchoStub::*)(h2rpc::ClientContext*, const common::Text&,
                                                         Envelope*)>);
static_assert(std::is_same_v<decltype(&EchoStub::Repeat),
                             std::unique_ptr<h2rpc::ClientReader<common::Text>> (EchoStub::*)(
                                 h2rpc::ClientContext*, const common::Text&)>);
static_assert(std::is_same_v<decltype(&EchoStub::Collect),
                             std::unique_ptr<h2rpc::ClientWriter<common::Text>> (EchoStub::*)(
                                 h2rpc::ClientContext*, common::Count*)>);
static_assert(std::is_same_v<decltype(&EchoStub::Chat),
                             std::unique_ptr<h2rpc::ClientReaderWriter<Envelope, Envelope>> (
                                 EchoStub::*)(h2rpc::ClientContext*)>);

using EchoService = v1::Echo::Service;
static_assert(std::is_base_of_v<h2rpc::Service, EchoService>);
static_assert(std::is_same_v<decltype(&EchoService::Say),
                             h2rpc::Status (EchoService::*)(h2rpc::ServerContext*,
                                                            const common::Text*, Envelope*)>);
static_assert(
    std::is_same_v<decltype(&EchoService::Repeat),
                   h2rpc::Status (EchoService::*)(h2rpc::ServerContext*, const common::Text*,
                                                  h2rpc::ServerWriter<common::Text>*)>);
static_assert(
    std::is_same_v<decltype(&EchoService::Collect),
                   h2rpc::Status (EchoService::*)(
                       h2rpc::ServerContext*, h2rpc::ServerReader<common::Text>*, common::Count*)>);
static_assert(
    std::is_same_v<decltype(&EchoService::Chat),
                   h2rpc::Status (EchoService::*)(h2rpc::ServerContext*,
                                                  h2rpc::ServerReaderWriter<Envelope, Envelope>*)>);

// Names that are not usable as they are get protoc's trailing '_' in C++.
static_assert(std::is_member_function_pointer_v<decltype(&v1::Keywords::Stub::delete_)>);
static_assert(std::is_member_function_pointer_v<decltype(&v1::Keywords::Stub::new_)>);
static_assert(std::is_member_function_pointer_v<decltype(&v1::Keywords::Stub::class_)>);
static_assert(std::is_member_function_pointer_v<decltype(&v1::Keywords::Stub::Stub_)>);
static_assert(std::is_member_function_pointer_v<decltype(&v1::Keywords::Service::Service_)>);
static_assert(std::is_member_function_pointer_v<decltype(&v1::Keywords::Stub::channel__)>);
static_assert(std::is_member_function_pointer_v<decltype(&v1::Keywords::Stub::NewStub)>);

// ---- Services --------------------------------------------------------------------------------

constexpr auto kCallTimeout = std::chrono::seconds(10);

class EchoImpl final : public v1::Echo::Service {
 public:
  std::atomic<int> compressed_requests{0};

  h2rpc::Status Say(h2rpc::ServerContext*, const common::Text* request,
                    Envelope* response) override {
    response->mutable_header()->set_id("say");
    *response->mutable_text() = *request;
    return {};
  }

  h2rpc::Status Repeat(h2rpc::ServerContext* context, const common::Text* request,
                       h2rpc::ServerWriter<common::Text>* writer) override {
    // "gzip:" asks for compressed responses (the typed write then serializes before framing).
    if (request->value().starts_with("gzip:")) {
      context->set_compression_algorithm(h2rpc::Compression::kGzip);
    }
    for (int i = 0; i < request->repeat(); ++i) {
      common::Text text;
      text.set_value(request->value() + std::to_string(i));
      if (!writer->Write(text)) return h2rpc::Status(h2rpc::StatusCode::kCancelled, "write failed");
    }
    return {};
  }

  h2rpc::Status Collect(h2rpc::ServerContext* context, h2rpc::ServerReader<common::Text>* reader,
                        common::Count* response) override {
    common::Text text;
    while (reader->Read(&text)) {
      if (context->last_message_compressed()) ++compressed_requests;
      response->set_messages(response->messages() + 1);
      response->mutable_joined()->append(text.value());
    }
    return {};
  }

  h2rpc::Status Chat(h2rpc::ServerContext*,
                     h2rpc::ServerReaderWriter<Envelope, Envelope>* stream) override {
    Envelope envelope;
    while (stream->Read(&envelope)) {
      envelope.mutable_header()->set_id("echo:" + envelope.header().id());
      if (!stream->Write(envelope)) break;
    }
    return {};
  }
};

// Overrides some methods only: the others must answer UNIMPLEMENTED.
class KeywordsImpl final : public v1::Keywords::Service {
 public:
  h2rpc::Status delete_(h2rpc::ServerContext*, const Header* request, Header* response) override {
    response->set_id("deleted:" + request->id());
    return {};
  }

  h2rpc::Status new_(h2rpc::ServerContext*, const Header* request,
                     h2rpc::ServerWriter<Header>* writer) override {
    Header header;
    header.set_id("new:" + request->id());
    writer->Write(header);
    writer->Write(header);
    return {};
  }

  h2rpc::Status class_(h2rpc::ServerContext*, h2rpc::ServerReader<Header>* reader,
                       Header* response) override {
    Header header;
    while (reader->Read(&header)) response->mutable_id()->append(header.id());
    return {};
  }

  h2rpc::Status Stub_(h2rpc::ServerContext*, const Header*, Header* response) override {
    response->set_id("stub");
    return {};
  }

  h2rpc::Status channel__(h2rpc::ServerContext*, const Header*, Header* response) override {
    response->set_id("channel");
    return {};
  }
};

class PingImpl final : public ::Service_::Service {
 public:
  h2rpc::Status Ping(h2rpc::ServerContext*, const ::Ping* request, ::Ping* response) override {
    response->set_sequence(request->sequence() + 1);
    return {};
  }
};

/// One server with every generated service (Idle has no methods) on a free loopback port, and
/// one channel to it that all stubs share.
struct Fixture {
  EchoImpl echo;
  KeywordsImpl keywords;
  PingImpl ping;
  ::Idle::Service idle;
  std::unique_ptr<h2rpc::Server> server;
  std::shared_ptr<h2rpc::Channel> channel;

  Fixture() {
    h2rpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", &port)
        .RegisterService(&echo)
        .RegisterService(&keywords)
        .RegisterService(&ping)
        .RegisterService(&idle);
    server = builder.BuildAndStart();
    REQUIRE_MESSAGE(server != nullptr, builder.error().ToString());
    REQUIRE(port > 0);
    channel = h2rpc::CreateChannel("127.0.0.1:" + std::to_string(port));
  }
  ~Fixture() {
    if (server) server->Shutdown();
  }
};

void SetDeadline(h2rpc::ClientContext& context) { context.set_timeout(kCallTimeout); }

Header MakeHeader(const std::string& id) {
  Header header;
  header.set_id(id);
  return header;
}

}  // namespace

TEST_CASE_FIXTURE(Fixture, "unary call through a generated stub") {
  auto stub = v1::Echo::NewStub(channel);
  h2rpc::ClientContext context;
  SetDeadline(context);
  common::Text request;
  request.set_value("hello");
  Envelope response;
  h2rpc::Status status = stub->Say(&context, request, &response);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  CHECK(response.header().id() == "say");
  CHECK(response.text().value() == "hello");
}

TEST_CASE_FIXTURE(Fixture, "typed unary requests: large, compressed and over the send limit") {
  common::Text request;
  request.set_value(std::string(300 * 1024, 'u'));  // spans many DATA frames
  for (const bool gzip : {false, true}) {
    CAPTURE(gzip);
    auto stub = v1::Echo::NewStub(channel);
    h2rpc::ClientContext context;
    SetDeadline(context);
    if (gzip) context.set_compression_algorithm(h2rpc::Compression::kGzip);
    Envelope response;
    h2rpc::Status status = stub->Say(&context, request, &response);
    REQUIRE_MESSAGE(status.ok(), status.ToString());
    CHECK(response.text().value() == request.value());
  }
  h2rpc::ChannelOptions options;
  options.max_send_message_size = 1000;
  auto limited = v1::Echo::NewStub(h2rpc::Channel::Create(channel->target(), options));
  h2rpc::ClientContext context;
  SetDeadline(context);
  Envelope response;
  h2rpc::Status status = limited->Say(&context, request, &response);
  CHECK(status.code() == h2rpc::StatusCode::kResourceExhausted);
  CHECK(status.message().find("maximum send size") != std::string::npos);
}

TEST_CASE_FIXTURE(Fixture, "server streaming through a generated stub") {
  v1::Echo::Stub stub(channel);
  h2rpc::ClientContext context;
  SetDeadline(context);
  common::Text request;
  request.set_value("r");
  request.set_repeat(3);
  auto reader = stub.Repeat(&context, request);
  std::vector<std::string> got;
  common::Text text;
  while (reader->Read(&text)) got.push_back(text.value());
  h2rpc::Status status = reader->Finish();
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  CHECK(got == std::vector<std::string>{"r0", "r1", "r2"});
}

TEST_CASE_FIXTURE(Fixture, "typed writes: large, compressed and plain responses arrive intact") {
  v1::Echo::Stub stub(channel);
  for (const std::string prefix : {"plain:", "gzip:"}) {
    CAPTURE(prefix);
    h2rpc::ClientContext context;
    SetDeadline(context);
    common::Text request;
    request.set_value(prefix + std::string(300 * 1024, 'v'));  // spans many DATA frames
    request.set_repeat(4);
    auto reader = stub.Repeat(&context, request);
    common::Text text;
    int got = 0;
    while (reader->Read(&text)) {
      CHECK(text.value() == request.value() + std::to_string(got));
      CHECK(context.last_message_compressed() == (prefix == "gzip:"));
      ++got;
    }
    h2rpc::Status status = reader->Finish();
    REQUIRE_MESSAGE(status.ok(), status.ToString());
    CHECK(got == 4);
  }
}

TEST_CASE("a typed read of bytes that are not the message type ends INTERNAL, small or large") {
  // The large one is parsed from the read buffers it arrived in, the small one from a string:
  // both must fail the same way, after the good message before them.
  h2rpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", &port)
      .RegisterMethod("/codegen.h2rpc.v1.Echo/Repeat", h2rpc::RpcKind::kServerStreaming,
                      [](h2rpc::ServerContext&, h2rpc::ServerCall& call) {
                        std::string request;
                        call.Read(&request);
                        common::Text good;
                        good.set_value(std::string(200 * 1024, 'g'));
                        call.Write(good.SerializeAsString());
                        // Field 1 says length-delimited, then a varint that never ends.
                        const size_t bad_size = request == "large" ? 200 * 1024 : 10;
                        call.Write("\x0a" + std::string(bad_size - 1, '\xff'));
                        return h2rpc::Status();
                      });
  auto server = builder.BuildAndStart();
  REQUIRE_MESSAGE(server != nullptr, builder.error().ToString());
  v1::Echo::Stub stub(h2rpc::CreateChannel("127.0.0.1:" + std::to_string(port)));
  for (const std::string which : {"small", "large"}) {
    CAPTURE(which);
    h2rpc::ClientContext context;
    SetDeadline(context);
    common::Text request;
    request.set_value(which);
    auto reader = stub.Repeat(&context, request);
    common::Text text;
    REQUIRE(reader->Read(&text));
    CHECK(text.value() == std::string(200 * 1024, 'g'));
    CHECK_FALSE(reader->Read(&text));
    const h2rpc::Status status = reader->Finish();
    CHECK(status.code() == h2rpc::StatusCode::kInternal);
    CHECK(status.message() == "failed to parse codegen.common.Text");
  }
  server->Shutdown();
}

TEST_CASE("a single typed response that is not the message type ends INTERNAL, small or large") {
  // Unary and client-streaming replies: a large one is parsed from the read buffers it arrived
  // in, a small one from a string. The request names the size; "none" sends no reply at all.
  auto reply = [](h2rpc::ServerCall& call, const std::string& which) {
    if (which == "none") return;
    const size_t size = which == "large" ? 200 * 1024 : 10;
    // Field 1 says length-delimited, then a varint that never ends.
    call.Write("\x0a" + std::string(size - 1, '\xff'));
  };
  // Unary or client streaming: the first request names the reply, any others are read away.
  auto handler = [&reply](h2rpc::ServerContext&, h2rpc::ServerCall& call) {
    std::string request;
    call.Read(&request);
    common::Text text;
    text.ParseFromString(request);
    while (call.Read(&request)) {
    }
    reply(call, text.value());
    return h2rpc::Status();
  };
  h2rpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", &port)
      .RegisterMethod("/codegen.h2rpc.v1.Echo/Say", h2rpc::RpcKind::kUnary, handler)
      .RegisterMethod("/codegen.h2rpc.v1.Echo/Collect", h2rpc::RpcKind::kClientStreaming, handler);
  auto server = builder.BuildAndStart();
  REQUIRE_MESSAGE(server != nullptr, builder.error().ToString());
  v1::Echo::Stub stub(h2rpc::CreateChannel("127.0.0.1:" + std::to_string(port)));
  for (const std::string which : {"small", "large", "none"}) {
    CAPTURE(which);
    const std::string expected = which == "none" ? "server returned OK without a response message"
                                                 : "failed to parse codegen.h2rpc.v1.Envelope";
    common::Text request;
    request.set_value(which);
    h2rpc::ClientContext unary_context;
    SetDeadline(unary_context);
    Envelope envelope;
    h2rpc::Status status = stub.Say(&unary_context, request, &envelope);
    CHECK(status.code() == h2rpc::StatusCode::kInternal);
    CHECK(status.message() == expected);

    h2rpc::ClientContext stream_context;
    SetDeadline(stream_context);
    common::Count count;
    auto writer = stub.Collect(&stream_context, &count);
    REQUIRE(writer->Write(request));
    CHECK(writer->WritesDone());
    status = writer->Finish();
    CHECK(status.code() == h2rpc::StatusCode::kInternal);
    CHECK(status.message() ==
          (which == "none" ? expected : "failed to parse codegen.common.Count"));
  }
  server->Shutdown();
}

TEST_CASE_FIXTURE(Fixture, "a typed server's request that is not the message type ends INTERNAL") {
  // A large request is parsed from the server's read buffers, a small one from a string; unary
  // (one request) and client streaming (the reader's parse error) must fail the same way.
  for (const size_t size : {size_t{10}, size_t{200 * 1024}}) {
    CAPTURE(size);
    // Field 1 says length-delimited, then a varint that never ends.
    const std::string bad = "\x0a" + std::string(size - 1, '\xff');
    h2rpc::ClientContext unary_context;
    SetDeadline(unary_context);
    std::string reply;
    h2rpc::Status status =
        channel->UnaryCall(unary_context, "/codegen.h2rpc.v1.Echo/Say", bad, &reply);
    CHECK(status.code() == h2rpc::StatusCode::kInternal);
    CHECK(status.message() == "failed to parse codegen.common.Text");

    h2rpc::ClientContext stream_context;
    SetDeadline(stream_context);
    auto call = channel->StartCall(stream_context, "/codegen.h2rpc.v1.Echo/Collect");
    common::Text good;
    good.set_value(std::string(size, 'g'));
    CHECK(call->Write(good.SerializeAsString()));
    // The server may end the call as soon as it parsed `bad`: these may find it over.
    call->Write(bad);
    call->WritesDone();
    status = call->Finish();
    CHECK(status.code() == h2rpc::StatusCode::kInternal);
    CHECK(status.message() == "failed to parse codegen.common.Text");
  }
}

TEST_CASE("typed write larger than the server's max send size ends RESOURCE_EXHAUSTED") {
  EchoImpl echo;
  h2rpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", &port).RegisterService(&echo).SetMaxSendMessageSize(1000);
  auto server = builder.BuildAndStart();
  REQUIRE_MESSAGE(server != nullptr, builder.error().ToString());
  auto stub = v1::Echo::NewStub(h2rpc::CreateChannel("127.0.0.1:" + std::to_string(port)));
  for (const size_t size : {size_t{900}, size_t{2000}}) {
    CAPTURE(size);
    h2rpc::ClientContext context;
    SetDeadline(context);
    common::Text request;
    request.set_value(std::string(size, 'x'));
    Envelope response;
    h2rpc::Status status = stub->Say(&context, request, &response);
    if (size < 1000) {
      REQUIRE_MESSAGE(status.ok(), status.ToString());
      CHECK(response.text().value() == request.value());
    } else {
      CHECK(status.code() == h2rpc::StatusCode::kResourceExhausted);
      CHECK(status.message().find("max send message size") != std::string::npos);
    }
  }
  server->Shutdown();
}

TEST_CASE_FIXTURE(Fixture, "client streaming through a generated stub") {
  auto stub = v1::Echo::NewStub(channel);
  h2rpc::ClientContext context;
  SetDeadline(context);
  common::Count count;
  auto writer = stub->Collect(&context, &count);
  for (const char* value : {"a", "b", "c"}) {
    common::Text text;
    text.set_value(value);
    REQUIRE(writer->Write(text));
  }
  CHECK(writer->WritesDone());
  h2rpc::Status status = writer->Finish();
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  CHECK(count.messages() == 3);
  CHECK(count.joined() == "abc");
}

TEST_CASE_FIXTURE(Fixture,
                  "typed client writes: large, compressed and plain requests arrive intact") {
  auto stub = v1::Echo::NewStub(channel);
  for (const bool gzip : {false, true}) {
    CAPTURE(gzip);
    echo.compressed_requests = 0;
    h2rpc::ClientContext context;
    SetDeadline(context);
    if (gzip) context.set_compression_algorithm(h2rpc::Compression::kGzip);
    common::Count count;
    auto writer = stub->Collect(&context, &count);
    std::string expected;
    for (char fill : {'p', 'q', 'r'}) {
      common::Text text;
      text.set_value(std::string(300 * 1024, fill));  // spans many DATA frames
      expected += text.value();
      REQUIRE(writer->Write(text));
    }
    CHECK(writer->WritesDone());
    h2rpc::Status status = writer->Finish();
    REQUIRE_MESSAGE(status.ok(), status.ToString());
    CHECK(count.messages() == 3);
    CHECK(count.joined() == expected);
    CHECK(echo.compressed_requests.load() == (gzip ? 3 : 0));
  }
}

TEST_CASE_FIXTURE(Fixture, "bidirectional streaming through a generated stub") {
  auto stub = v1::Echo::NewStub(channel);
  h2rpc::ClientContext context;
  SetDeadline(context);
  auto stream = stub->Chat(&context);
  for (int i = 0; i < 3; ++i) {
    Envelope out;
    out.mutable_header()->set_id(std::to_string(i));
    out.mutable_text()->set_value("m");
    REQUIRE(stream->Write(out));
    Envelope in;
    REQUIRE(stream->Read(&in));
    CHECK(in.header().id() == "echo:" + std::to_string(i));
    CHECK(in.text().value() == "m");
  }
  CHECK(stream->WritesDone());
  Envelope extra;
  CHECK_FALSE(stream->Read(&extra));
  h2rpc::Status status = stream->Finish();
  CHECK_MESSAGE(status.ok(), status.ToString());
}

TEST_CASE_FIXTURE(Fixture, "keyword-named methods: C++ name with '_', proto name on the wire") {
  auto stub = v1::Keywords::NewStub(channel);

  SUBCASE("unary 'delete'") {
    h2rpc::ClientContext context;
    SetDeadline(context);
    Header response;
    h2rpc::Status status = stub->delete_(&context, MakeHeader("x"), &response);
    REQUIRE_MESSAGE(status.ok(), status.ToString());
    CHECK(response.id() == "deleted:x");
  }
  SUBCASE("the wire path is /codegen.h2rpc.v1.Keywords/delete") {
    h2rpc::ClientContext context;
    SetDeadline(context);
    std::string response_bytes;
    h2rpc::Status status =
        channel->UnaryCall(context, "/codegen.h2rpc.v1.Keywords/delete",
                           MakeHeader("raw").SerializeAsString(), &response_bytes);
    REQUIRE_MESSAGE(status.ok(), status.ToString());
    Header response;
    REQUIRE(response.ParseFromString(response_bytes));
    CHECK(response.id() == "deleted:raw");
  }
  SUBCASE("server-streaming 'new'") {
    h2rpc::ClientContext context;
    SetDeadline(context);
    auto reader = stub->new_(&context, MakeHeader("n"));
    Header header;
    int count = 0;
    while (reader->Read(&header)) {
      CHECK(header.id() == "new:n");
      ++count;
    }
    CHECK(reader->Finish().ok());
    CHECK(count == 2);
  }
  SUBCASE("client-streaming 'class'") {
    h2rpc::ClientContext context;
    SetDeadline(context);
    Header response;
    auto writer = stub->class_(&context, &response);
    REQUIRE(writer->Write(MakeHeader("p")));
    REQUIRE(writer->Write(MakeHeader("q")));
    CHECK(writer->WritesDone());
    h2rpc::Status status = writer->Finish();
    REQUIRE_MESSAGE(status.ok(), status.ToString());
    CHECK(response.id() == "pq");
  }
  SUBCASE("methods named like generated members") {
    h2rpc::ClientContext c1;
    SetDeadline(c1);
    Header response;
    REQUIRE(stub->Stub_(&c1, MakeHeader(""), &response).ok());
    CHECK(response.id() == "stub");
    h2rpc::ClientContext c2;
    SetDeadline(c2);
    REQUIRE(stub->channel__(&c2, MakeHeader(""), &response).ok());
    CHECK(response.id() == "channel");
  }
  SUBCASE("methods the subclass does not override answer UNIMPLEMENTED") {
    h2rpc::ClientContext c1;
    SetDeadline(c1);
    Header response;
    h2rpc::Status status = stub->Service_(&c1, MakeHeader(""), &response);
    CHECK(status.code() == h2rpc::StatusCode::kUnimplemented);
    CHECK(status.message().find("/codegen.h2rpc.v1.Keywords/Service") != std::string::npos);
    h2rpc::ClientContext c2;
    SetDeadline(c2);
    CHECK(stub->NewStub(&c2, MakeHeader(""), &response).code() ==
          h2rpc::StatusCode::kUnimplemented);
  }
}

TEST_CASE_FIXTURE(Fixture, "stubs of different services share one channel from many threads") {
  constexpr int kThreads = 4;
  constexpr int kCallsPerThread = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto echo = v1::Echo::NewStub(channel);
      auto ping = ::Service_::NewStub(channel);
      for (int i = 0; i < kCallsPerThread; ++i) {
        h2rpc::ClientContext c1;
        SetDeadline(c1);
        common::Text text;
        text.set_value(std::to_string(t * 1000 + i));
        Envelope envelope;
        if (!echo->Say(&c1, text, &envelope).ok() || envelope.text().value() != text.value()) {
          ++failures;
        }
        h2rpc::ClientContext c2;
        SetDeadline(c2);
        ::Ping request;
        request.set_sequence(i);
        ::Ping reply;
        if (!ping->Ping(&c2, request, &reply).ok() || reply.sequence() != i + 1) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(failures.load() == 0);
}

TEST_CASE_FIXTURE(Fixture,
                  "large typed unary calls in a row: buffers are reused, contents never mix") {
  // Request frames, response frames and both deframers draw on per-channel and per-server pools
  // of large buffers; a reused buffer must carry exactly the new message, whether it is
  // smaller or larger than the last one, from several threads at once.
  constexpr int kThreads = 3;
  constexpr int kCallsPerThread = 8;
  const size_t sizes[] = {1 << 20, 70 * 1024, (2 << 20) + 13, 300 * 1024, 100};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto stub = v1::Echo::NewStub(channel);
      for (int i = 0; i < kCallsPerThread; ++i) {
        h2rpc::ClientContext context;
        SetDeadline(context);
        if (i % 4 == 3) context.set_compression_algorithm(h2rpc::Compression::kGzip);
        common::Text request;
        const size_t size = sizes[(t + i) % std::size(sizes)];
        std::string value(size, static_cast<char>('a' + (t * kCallsPerThread + i) % 26));
        value.replace(0, std::min<size_t>(size, 8), std::to_string(t * 100 + i).substr(0, 8));
        value.back() = '$';
        request.set_value(value);
        Envelope response;
        const h2rpc::Status status = stub->Say(&context, request, &response);
        if (!status.ok() || response.text().value() != value) {
          MESSAGE("thread " << t << " call " << i << ": " << status.ToString());
          ++failures;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(failures.load() == 0);
}

TEST_CASE_FIXTURE(Fixture, "large messages on several bidi streams at once: contents never mix") {
  // Readers on both sides give finished message buffers to the channel's and the server's pool,
  // and every stream's deframer draws from it: buffers travel between streams, so each echo
  // must still carry exactly its own message. Two writes ahead of the reads keep several
  // buffers in flight per stream.
  constexpr int kThreads = 3;
  constexpr int kMessages = 10;
  constexpr int kAhead = 2;
  const size_t sizes[] = {1 << 20, 70 * 1024, (2 << 20) + 13, 300 * 1024, 100, 600 * 1024};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto stub = v1::Echo::NewStub(channel);
      h2rpc::ClientContext context;
      SetDeadline(context);
      auto stream = stub->Chat(&context);
      auto value_of = [&](int i) {
        const size_t size = sizes[(t + i) % std::size(sizes)];
        std::string value(size, static_cast<char>('a' + (t * kMessages + i) % 26));
        value.replace(0, std::min<size_t>(size, 6), std::to_string(t * 1000 + i).substr(0, 6));
        value.back() = '$';
        return value;
      };
      Envelope in;  // read into the same message each time, as a handler loop would
      for (int i = 0; i < kMessages + kAhead; ++i) {
        if (i < kMessages) {
          Envelope out;
          out.mutable_header()->set_id(std::to_string(i));
          out.mutable_text()->set_value(value_of(i));
          if (!stream->Write(out)) {
            MESSAGE("thread " << t << ": write " << i << " failed");
            ++failures;
            break;
          }
        }
        const int expected = i - kAhead;
        if (expected < 0) continue;
        if (!stream->Read(&in) || in.header().id() != "echo:" + std::to_string(expected) ||
            in.text().value() != value_of(expected)) {
          MESSAGE("thread " << t << ": echo " << expected << " missing or wrong");
          ++failures;
          break;
        }
      }
      stream->WritesDone();
      const h2rpc::Status status = stream->Finish();
      if (!status.ok()) {
        MESSAGE("thread " << t << ": " << status.ToString());
        ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(failures.load() == 0);
}
