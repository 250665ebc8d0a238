// The grpc.health.v1 service over a loopback server, through generated stubs.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "h2rpc.h"
#include "health.h2rpc.h"
#include "health.pb.h"
#include "services/health/health_service.h"

namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

struct Fixture {
  h2rpc::HealthService health;
  std::unique_ptr<h2rpc::Server> server;
  std::unique_ptr<Health::Stub> stub;

  Fixture() {
    h2rpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", &port).RegisterService(health.service());
    server = builder.BuildAndStart();
    REQUIRE_MESSAGE(server != nullptr, builder.error().ToString());
    stub = Health::NewStub(h2rpc::CreateChannel("127.0.0.1:" + std::to_string(port)));
  }
  ~Fixture() {
    if (server) server->Shutdown();
  }

  h2rpc::Status Check(const std::string& service, HealthCheckResponse* response) {
    h2rpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    HealthCheckRequest request;
    request.set_service(service);
    return stub->Check(&context, request, response);
  }
};

/// Starts a Watch with a 10 s deadline; the caller reads from `reader`.
struct Watcher {
  h2rpc::ClientContext context;
  std::unique_ptr<h2rpc::ClientReader<HealthCheckResponse>> reader;

  Watcher(Health::Stub& stub, const std::string& service) {
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    HealthCheckRequest request;
    request.set_service(service);
    reader = stub.Watch(&context, request);
  }
  HealthCheckResponse::ServingStatus Next() {
    HealthCheckResponse response;
    REQUIRE(reader->Read(&response));
    return response.status();
  }
};

}  // namespace

TEST_CASE("Check: the server starts SERVING, services report what was set, unknown is NOT_FOUND") {
  Fixture f;
  HealthCheckResponse response;
  REQUIRE(f.Check("", &response).ok());
  CHECK(response.status() == HealthCheckResponse::SERVING);

  h2rpc::Status unknown = f.Check("no.Such", &response);
  CHECK(unknown.code() == h2rpc::StatusCode::kNotFound);
  CHECK(unknown.error_message() == "unknown service: no.Such");

  f.health.SetServingStatus("pkg.Svc", false);
  REQUIRE(f.Check("pkg.Svc", &response).ok());
  CHECK(response.status() == HealthCheckResponse::NOT_SERVING);
  f.health.SetServingStatus("pkg.Svc", true);
  REQUIRE(f.Check("pkg.Svc", &response).ok());
  CHECK(response.status() == HealthCheckResponse::SERVING);

  f.health.SetServingStatus(false);  // every known service and ""
  REQUIRE(f.Check("", &response).ok());
  CHECK(response.status() == HealthCheckResponse::NOT_SERVING);
  REQUIRE(f.Check("pkg.Svc", &response).ok());
  CHECK(response.status() == HealthCheckResponse::NOT_SERVING);
}

TEST_CASE("Watch: current status at once, then each change, and nothing for a repeated status") {
  Fixture f;
  f.health.SetServingStatus("pkg.Svc", true);
  Watcher w(*f.stub, "pkg.Svc");
  CHECK(w.Next() == HealthCheckResponse::SERVING);
  f.health.SetServingStatus("pkg.Svc", true);  // no change: no message
  f.health.SetServingStatus("pkg.Svc", false);
  CHECK(w.Next() == HealthCheckResponse::NOT_SERVING);
  f.health.SetServingStatus("pkg.Svc", true);
  CHECK(w.Next() == HealthCheckResponse::SERVING);
  f.health.Shutdown();
  CHECK(w.Next() == HealthCheckResponse::NOT_SERVING);
  f.health.SetServingStatus("pkg.Svc", true);  // ignored after Shutdown
  HealthCheckResponse response;
  REQUIRE(f.Check("pkg.Svc", &response).ok());
  CHECK(response.status() == HealthCheckResponse::NOT_SERVING);
}

TEST_CASE("Watch: an unknown service is SERVICE_UNKNOWN until it is given a status") {
  Fixture f;
  Watcher w(*f.stub, "later.Svc");
  CHECK(w.Next() == HealthCheckResponse::SERVICE_UNKNOWN);
  f.health.SetServingStatus("later.Svc", true);
  CHECK(w.Next() == HealthCheckResponse::SERVING);
}

TEST_CASE("Watch: a client cancel ends the blocked handler, and the server still shuts down") {
  Fixture f;
  auto w = std::make_unique<Watcher>(*f.stub, "");
  CHECK(w->Next() == HealthCheckResponse::SERVING);
  w->context.TryCancel();
  HealthCheckResponse response;
  CHECK_FALSE(w->reader->Read(&response));
  CHECK(w->reader->Finish().code() == h2rpc::StatusCode::kCancelled);
  // Many watches held open, then a server shutdown: each blocked handler must wake and end.
  std::vector<std::unique_ptr<Watcher>> held;
  for (int i = 0; i < 20; ++i) {
    held.push_back(std::make_unique<Watcher>(*f.stub, i % 2 ? "" : "x.Y"));
    held.back()->Next();
  }
  const auto start = std::chrono::steady_clock::now();
  f.server->Shutdown();
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  for (auto& h : held) {
    CHECK_FALSE(h->reader->Read(&response));
    CHECK_FALSE(h->reader->Finish().ok());
  }
}

TEST_CASE("Watch: the call's deadline ends it with DEADLINE_EXCEEDED") {
  Fixture f;
  h2rpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  HealthCheckRequest request;
  auto reader = f.stub->Watch(&context, request);
  HealthCheckResponse response;
  REQUIRE(reader->Read(&response));
  CHECK_FALSE(reader->Read(&response));
  CHECK(reader->Finish().code() == h2rpc::StatusCode::kDeadlineExceeded);
}
