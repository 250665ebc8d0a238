// HealthService: the standard gRPC health service (grpc.health.v1.Health) for an h2rpc server.
//
// What Kubernetes' gRPC probes, load balancers, Envoy/nginx health checks and grpc_health_probe
// call. Register it next to your own services and report their state:
//
//   h2rpc::HealthService health;                 // "" (the whole server) starts SERVING
//   builder.RegisterService(health.service());
//   health.SetServingStatus("helloworld.Greeter", true);
//   ...
//   health.Shutdown();                           // before Server::Shutdown: NOT_SERVING to all
//
// Check answers the current status, or NOT_FOUND for a service never given one. Watch sends
// the current status at once (SERVICE_UNKNOWN for an unknown service) and then each change,
// until the client cancels or the server shuts down; each Watch holds one handler thread. All
// methods are thread-safe. The service object must outlive the server it is registered with.
#pragma once

#include <memory>
#include <string>

namespace h2rpc {

class Service;

class HealthService {
 public:
  HealthService();
  ~HealthService();
  HealthService(const HealthService&) = delete;
  HealthService& operator=(const HealthService&) = delete;

  /// What to pass to ServerBuilder::RegisterService.
  Service* service();

  /// Sets one service's status ("" = the server as a whole). Watchers hear of changes.
  void SetServingStatus(const std::string& service_name, bool serving);
  /// Sets every service named so far, and "", at once.
  void SetServingStatus(bool serving);
  /// Every service NOT_SERVING, and later SetServingStatus calls are ignored: call it when
  /// the server starts to shut down, so that health checkers stop sending traffic.
  void Shutdown();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace h2rpc
