// h2rpc-health-probe: asks a gRPC server's standard health service whether it is SERVING, for
// scripts, container HEALTHCHECKs and Kubernetes exec probes. Works with any gRPC server that
// serves grpc.health.v1.Health (h2rpc's HealthService, grpc++'s default one, grpc-go, ...).
//
//   h2rpc-health-probe --addr HOST:PORT [--service NAME] [--timeout_ms 1000]
//
// Exit status, as grpc_health_probe's: 0 SERVING; 1 bad flags; 2 no connection or no answer
// in time (UNAVAILABLE, DEADLINE_EXCEEDED); 3 any other RPC failure (UNIMPLEMENTED: no health
// service; NOT_FOUND: unknown service); 4 answered, but not SERVING.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "h2rpc.h"
#include "health.h2rpc.h"
#include "health.pb.h"

namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

int Usage(const char* why) {
  std::fprintf(stderr,
               "h2rpc-health-probe: %s\n"
               "usage: h2rpc-health-probe --addr HOST:PORT [--service NAME] [--timeout_ms MS]\n",
               why);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string addr;
  std::string service;
  long timeout_ms = 1000;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::string value;
    if (auto eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return Usage(("no value for " + flag).c_str());
    }
    if (flag == "--addr") {
      addr = value;
    } else if (flag == "--service") {
      service = value;
    } else if (flag == "--timeout_ms") {
      char* end = nullptr;
      timeout_ms = std::strtol(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0' || timeout_ms <= 0) {
        return Usage("--timeout_ms needs a positive number");
      }
    } else {
      return Usage(("unknown flag " + flag).c_str());
    }
  }
  if (addr.empty()) return Usage("--addr is required");

  auto stub = Health::NewStub(h2rpc::CreateChannel(addr));
  h2rpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  const h2rpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    std::fprintf(stderr, "h2rpc-health-probe: %s: %s\n", addr.c_str(), status.ToString().c_str());
    const bool unreachable = status.code() == h2rpc::StatusCode::kUnavailable ||
                             status.code() == h2rpc::StatusCode::kDeadlineExceeded;
    return unreachable ? 2 : 3;
  }
  const std::string name = HealthCheckResponse::ServingStatus_Name(response.status());
  if (response.status() != HealthCheckResponse::SERVING) {
    std::fprintf(stderr, "h2rpc-health-probe: %s: service \"%s\" is %s\n", addr.c_str(),
                 service.c_str(), name.c_str());
    return 4;
  }
  std::printf("status: %s\n", name.c_str());
  return 0;
}
