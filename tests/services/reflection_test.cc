// Server reflection (grpc.reflection.v1 and v1alpha) over a loopback server, asked through the
// generated stubs the way grpcurl or buf curl ask: each answer must let a client rebuild the
// schema in a descriptor pool of its own.
#include <doctest/doctest.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "h2rpc.h"
#include "reflection_test_main.pb.h"
#include "reflection_test_service.h2rpc.h"
#include "reflection_v1.h2rpc.h"
#include "reflection_v1.pb.h"
#include "reflection_v1alpha.h2rpc.h"
#include "reflection_v1alpha.pb.h"
#include "services/health/health_service.h"
#include "services/reflection/reflection_service.h"

namespace {

namespace v1 = grpc::reflection::v1;
namespace v1alpha = grpc::reflection::v1alpha;
using google::protobuf::FileDescriptorProto;

struct Fixture {
  h2rpc::HealthService health;
  h2rpc::ReflectionService reflection;
  std::unique_ptr<h2rpc::Server> server;
  std::shared_ptr<h2rpc::Channel> channel;

  Fixture() {
    REQUIRE(reflection_test::Probe::descriptor() != nullptr);  // linked into the program
    h2rpc::ServerBuilder builder;
    int port = 0;
    auto unimplemented = [](h2rpc::ServerContext&, h2rpc::ServerCall&) {
      return h2rpc::Status(h2rpc::StatusCode::kUnimplemented, "not here");
    };
    builder.AddListeningPort("127.0.0.1:0", &port)
        .RegisterService(health.service())
        .RegisterService(reflection.service())
        .RegisterMethod("/reflection_test.Prober/Ask", h2rpc::RpcKind::kUnary, unimplemented)
        .RegisterMethod("/raw.Only/Call", h2rpc::RpcKind::kUnary, unimplemented);
    server = builder.BuildAndStart();
    REQUIRE_MESSAGE(server != nullptr, builder.error().ToString());
    channel = h2rpc::CreateChannel("127.0.0.1:" + std::to_string(port));
  }
  ~Fixture() {
    if (server) server->Shutdown();
  }
};

/// One reflection stream of either protocol version.
template <class Stub, class Request, class Response>
class Session {
 public:
  explicit Session(std::shared_ptr<h2rpc::Channel> channel) : stub_(Stub::NewStub(channel)) {
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    stream_ = stub_->ServerReflectionInfo(&context_);
  }

  Response Ask(const Request& request) {
    REQUIRE(stream_->Write(request));
    Response response;
    REQUIRE(stream_->Read(&response));
    return response;
  }

  h2rpc::Status Finish() {
    stream_->WritesDone();
    Response extra;
    CHECK_FALSE(stream_->Read(&extra));
    return stream_->Finish();
  }

  auto& stream() { return *stream_; }

 private:
  std::unique_ptr<typename Stub::Stub> stub_;
  h2rpc::ClientContext context_;
  std::unique_ptr<h2rpc::ClientReaderWriter<Request, Response>> stream_;
};

using SessionV1 =
    Session<v1::ServerReflection, v1::ServerReflectionRequest, v1::ServerReflectionResponse>;
using SessionV1alpha = Session<v1alpha::ServerReflection, v1alpha::ServerReflectionRequest,
                               v1alpha::ServerReflectionResponse>;

template <class Request>
Request Symbol(const std::string& name) {
  Request request;
  request.set_file_containing_symbol(name);
  return request;
}

template <class Response>
std::vector<FileDescriptorProto> Files(const Response& response) {
  REQUIRE_MESSAGE(response.has_file_descriptor_response(), response.DebugString());
  std::vector<FileDescriptorProto> files;
  for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
    REQUIRE(files.emplace_back().ParseFromString(bytes));
  }
  return files;
}

std::vector<std::string> Names(const std::vector<FileDescriptorProto>& files) {
  std::vector<std::string> names;
  for (const auto& f : files) names.push_back(f.name());
  return names;
}

/// What a reflection client does with an answer: builds the files (imports first) in a pool of
/// its own. Fails the test if any file or import is missing or malformed.
std::unique_ptr<google::protobuf::DescriptorPool> Rebuild(
    const std::vector<FileDescriptorProto>& files) {
  auto pool = std::make_unique<google::protobuf::DescriptorPool>();
  std::set<std::string> built;
  // Repeatedly build what has all its imports; the answer's order is not the build order.
  for (size_t round = 0; round < files.size(); ++round) {
    for (const auto& f : files) {
      if (built.count(f.name()) != 0) continue;
      bool ready = std::all_of(f.dependency().begin(), f.dependency().end(),
                               [&](const std::string& d) { return built.count(d) != 0; });
      if (ready) {
        REQUIRE_MESSAGE(pool->BuildFile(f) != nullptr, f.name());
        built.insert(f.name());
      }
    }
  }
  REQUIRE_MESSAGE(built.size() == files.size(), "an import is missing from the answer");
  return pool;
}

template <class Response>
void CheckError(const Response& response, h2rpc::StatusCode code, const std::string& mentions) {
  REQUIRE_MESSAGE(response.has_error_response(), response.DebugString());
  CHECK(response.error_response().error_code() == static_cast<int>(code));
  CHECK_MESSAGE(response.error_response().error_message().find(mentions) != std::string::npos,
                response.error_response().error_message());
}

}  // namespace

TEST_CASE("list_services names every service the server serves, once, sorted") {
  Fixture f;
  SessionV1 session(f.channel);
  v1::ServerReflectionRequest request;
  request.set_host("example.test");
  request.set_list_services("*");
  v1::ServerReflectionResponse response = session.Ask(request);
  CHECK(response.valid_host() == "example.test");
  CHECK(response.original_request().list_services() == "*");
  REQUIRE(response.has_list_services_response());
  std::vector<std::string> names;
  for (const auto& s : response.list_services_response().service()) names.push_back(s.name());
  CHECK(names == std::vector<std::string>{"grpc.health.v1.Health",
                                          "grpc.reflection.v1.ServerReflection",
                                          "grpc.reflection.v1alpha.ServerReflection", "raw.Only",
                                          "reflection_test.Prober"});
  CHECK(session.Finish().ok());
}

TEST_CASE("a symbol's answer carries its file first, then the imports, enough to rebuild it") {
  Fixture f;
  SessionV1 session(f.channel);
  for (const char* symbol :
       {"reflection_test.Prober", "reflection_test.Prober.Ask", "reflection_test.Probe",
        "reflection_test.Probe.Nested", "reflection_test.Probe.Nested.Kind",
        "reflection_test.Probe.base", "reflection_test.weight"}) {
    CAPTURE(symbol);
    auto files = Files(session.Ask(Symbol<v1::ServerReflectionRequest>(symbol)));
    CHECK(Names(files) ==
          std::vector<std::string>{"reflection_test_main.proto", "reflection_test_base.proto"});
    auto pool = Rebuild(files);
    const auto* method = pool->FindMethodByName("reflection_test.Prober.Ask");
    REQUIRE(method != nullptr);
    CHECK(method->input_type()->full_name() == "reflection_test.Probe");
    CHECK(method->output_type()->full_name() == "reflection_test.Base");
  }
  // The services of the library itself are described too (grpcurl describes everything).
  for (const char* symbol : {"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
                             "grpc.reflection.v1alpha.ServerReflection"}) {
    CAPTURE(symbol);
    auto pool = Rebuild(Files(session.Ask(Symbol<v1::ServerReflectionRequest>(symbol))));
    CHECK(pool->FindServiceByName(symbol) != nullptr);
  }
  CHECK(session.Finish().ok());
}

TEST_CASE("file_by_filename answers that file and what it imports") {
  Fixture f;
  SessionV1 session(f.channel);
  v1::ServerReflectionRequest request;
  request.set_file_by_filename("reflection_test_base.proto");
  CHECK(Names(Files(session.Ask(request))) ==
        std::vector<std::string>{"reflection_test_base.proto"});
  request.set_file_by_filename("reflection_test_main.proto");
  auto files = Files(session.Ask(request));
  CHECK(Names(files) ==
        std::vector<std::string>{"reflection_test_main.proto", "reflection_test_base.proto"});
  Rebuild(files);
  CHECK(session.Finish().ok());
}

TEST_CASE("extensions: the numbers of a type, and the file that declares one") {
  Fixture f;
  SessionV1 session(f.channel);
  v1::ServerReflectionRequest request;
  request.set_all_extension_numbers_of_type("reflection_test.Base");
  auto response = session.Ask(request);
  REQUIRE(response.has_all_extension_numbers_response());
  CHECK(response.all_extension_numbers_response().base_type_name() == "reflection_test.Base");
  std::vector<int> numbers(response.all_extension_numbers_response().extension_number().begin(),
                           response.all_extension_numbers_response().extension_number().end());
  std::sort(numbers.begin(), numbers.end());
  CHECK(numbers == std::vector<int>{100, 142});

  request.mutable_file_containing_extension()->set_containing_type("reflection_test.Base");
  request.mutable_file_containing_extension()->set_extension_number(142);
  CHECK(Names(Files(session.Ask(request))).front() == "reflection_test_main.proto");

  request.mutable_file_containing_extension()->set_extension_number(150);
  CheckError(session.Ask(request), h2rpc::StatusCode::kNotFound, "150");
  request.set_all_extension_numbers_of_type("reflection_test.Nope");
  CheckError(session.Ask(request), h2rpc::StatusCode::kNotFound, "reflection_test.Nope");
  CHECK(session.Finish().ok());
}

TEST_CASE("unknown names and empty requests get an error answer; the stream goes on") {
  Fixture f;
  SessionV1 session(f.channel);
  CheckError(session.Ask(Symbol<v1::ServerReflectionRequest>("no.Such")),
             h2rpc::StatusCode::kNotFound, "no.Such");
  // Listed (a method was registered by path), but nothing describes it.
  CheckError(session.Ask(Symbol<v1::ServerReflectionRequest>("raw.Only")),
             h2rpc::StatusCode::kNotFound, "raw.Only");
  v1::ServerReflectionRequest request;
  request.set_file_by_filename("nope.proto");
  CheckError(session.Ask(request), h2rpc::StatusCode::kNotFound, "nope.proto");
  CheckError(session.Ask(v1::ServerReflectionRequest()), h2rpc::StatusCode::kInvalidArgument, "");
  request.set_list_services("");
  CHECK(session.Ask(request).list_services_response().service_size() == 5);
  CHECK(session.Finish().ok());
}

TEST_CASE("requests sent ahead are answered in order") {
  Fixture f;
  SessionV1 session(f.channel);
  const std::vector<std::string> symbols = {"reflection_test.Probe", "no.Such",
                                            "grpc.health.v1.Health"};
  constexpr int kRounds = 40;
  for (int i = 0; i < kRounds; ++i) {
    REQUIRE(
        session.stream().Write(Symbol<v1::ServerReflectionRequest>(symbols[i % symbols.size()])));
  }
  for (int i = 0; i < kRounds; ++i) {
    v1::ServerReflectionResponse response;
    REQUIRE(session.stream().Read(&response));
    CHECK(response.original_request().file_containing_symbol() == symbols[i % symbols.size()]);
    CHECK(response.has_error_response() == (i % symbols.size() == 1));
  }
  CHECK(session.Finish().ok());
}

TEST_CASE("v1alpha, the protocol's older name, answers the same") {
  Fixture f;
  SessionV1alpha session(f.channel);
  v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  CHECK(session.Ask(request).list_services_response().service_size() == 5);
  auto response = session.Ask(Symbol<v1alpha::ServerReflectionRequest>("reflection_test.Prober"));
  REQUIRE(response.has_file_descriptor_response());
  CHECK(response.file_descriptor_response().file_descriptor_proto_size() == 2);
  CheckError(session.Ask(Symbol<v1alpha::ServerReflectionRequest>("no.Such")),
             h2rpc::StatusCode::kNotFound, "no.Such");
  CHECK(session.Finish().ok());
}

TEST_CASE("a pool of the program's own choosing") {
  google::protobuf::DescriptorPool pool;
  FileDescriptorProto file;
  file.set_name("only_here.proto");
  file.set_package("here");
  file.add_service()->set_name("Only");
  REQUIRE(pool.BuildFile(file) != nullptr);
  h2rpc::ReflectionService reflection(&pool);
  h2rpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", &port).RegisterService(reflection.service());
  auto server = builder.BuildAndStart();
  REQUIRE(server != nullptr);
  SessionV1 session(h2rpc::CreateChannel("127.0.0.1:" + std::to_string(port)));
  CHECK(Names(Files(session.Ask(Symbol<v1::ServerReflectionRequest>("here.Only")))) ==
        std::vector<std::string>{"only_here.proto"});
  CheckError(session.Ask(Symbol<v1::ServerReflectionRequest>("reflection_test.Probe")),
             h2rpc::StatusCode::kNotFound, "reflection_test.Probe");
  CHECK(session.Finish().ok());
  server->Shutdown();
}

TEST_CASE("a .proto holding only services, from a static library, is described too") {
  // Nothing of reflection_test_service.pb.cc is used but what the generated constructor
  // references; without that reference the linker would leave the file's descriptors out.
  reflection_test::OnlyServices::Service only_services;
  h2rpc::ReflectionService reflection;
  h2rpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", &port)
      .RegisterService(&only_services)
      .RegisterService(reflection.service());
  auto server = builder.BuildAndStart();
  REQUIRE(server != nullptr);
  SessionV1 session(h2rpc::CreateChannel("127.0.0.1:" + std::to_string(port)));
  auto files =
      Files(session.Ask(Symbol<v1::ServerReflectionRequest>("reflection_test.OnlyServices")));
  CHECK(Names(files) == std::vector<std::string>{"reflection_test_service.proto",
                                                 "reflection_test_main.proto",
                                                 "reflection_test_base.proto"});
  CHECK(Rebuild(files)->FindMethodByName("reflection_test.OnlyServices.Ask") != nullptr);
  CHECK(session.Finish().ok());
  server->Shutdown();
}
