#include "services/health/health_service.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <utility>

#include "health.h2rpc.h"
#include "health.pb.h"

namespace h2rpc {

namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ServingStatus = HealthCheckResponse::ServingStatus;

}  // namespace

class HealthService::Impl final : public ::grpc::health::v1::Health::Service {
 public:
  Impl() { statuses_[""] = HealthCheckResponse::SERVING; }

  void Set(const std::string& name, bool serving) {
    std::lock_guard lock(mu_);
    if (shut_down_) return;
    statuses_[name] = serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
    changed_.notify_all();
  }

  void SetAll(bool serving, bool and_freeze) {
    std::lock_guard lock(mu_);
    if (shut_down_) return;
    for (auto& [name, status] : statuses_) {
      status = serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
    }
    shut_down_ = and_freeze;
    changed_.notify_all();
  }

  Status Check(ServerContext*, const HealthCheckRequest* request,
               HealthCheckResponse* response) override {
    std::lock_guard lock(mu_);
    auto it = statuses_.find(request->service());
    if (it == statuses_.end()) {
      return Status(StatusCode::kNotFound, "unknown service: " + request->service());
    }
    response->set_status(it->second);
    return Status::Ok();
  }

  Status Watch(ServerContext* context, const HealthCheckRequest* request,
               ServerWriter<HealthCheckResponse>* writer) override {
    // Woken by status changes and, through OnCancel, by the end of the call. The callback takes
    // mu_ so that its notify cannot fall between our check of IsCancelled() and the wait.
    context->OnCancel([this] {
      std::lock_guard lock(mu_);
      changed_.notify_all();
    });
    Status outcome(StatusCode::kCancelled, "health watch ended");
    bool sent_any = false;
    ServingStatus last = HealthCheckResponse::UNKNOWN;
    for (;;) {
      ServingStatus now;
      {
        std::unique_lock lock(mu_);
        changed_.wait(lock, [&] {
          return context->IsCancelled() || !sent_any || StatusLocked(request->service()) != last;
        });
        if (context->IsCancelled()) break;
        now = StatusLocked(request->service());
      }
      HealthCheckResponse response;
      response.set_status(now);
      if (!writer->Write(response)) break;
      sent_any = true;
      last = now;
    }
    context->OnCancel({});  // after this, the callback above no longer runs
    return outcome;
  }

 private:
  ServingStatus StatusLocked(const std::string& name) const {
    auto it = statuses_.find(name);
    return it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second;
  }

  std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, ServingStatus> statuses_;  // guarded by mu_
  bool shut_down_ = false;                         // guarded by mu_
};

HealthService::HealthService() : impl_(std::make_unique<Impl>()) {}
HealthService::~HealthService() = default;

Service* HealthService::service() { return impl_.get(); }

void HealthService::SetServingStatus(const std::string& service_name, bool serving) {
  impl_->Set(service_name, serving);
}

void HealthService::SetServingStatus(bool serving) { impl_->SetAll(serving, false); }

void HealthService::Shutdown() { impl_->SetAll(false, true); }

}  // namespace h2rpc
