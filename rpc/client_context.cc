#include "rpc/client_context.h"

#include "codec/metadata.h"
#include "codec/timeout.h"
#include "rpc/client_call_state.h"

namespace h2rpc {

ClientContext::ClientContext() = default;
ClientContext::~ClientContext() = default;

void ClientContext::set_deadline(std::chrono::system_clock::time_point deadline) {
  deadline_ = deadline;
}

void ClientContext::set_timeout(std::chrono::nanoseconds timeout) {
  // Beyond codec::kMaxTimeout (100 years) a timeout means "no deadline"; adding it to now()
  // could overflow the clock.
  if (timeout > codec::kMaxTimeout) {
    deadline_.reset();
    return;
  }
  deadline_ = std::chrono::system_clock::now() +
              std::chrono::duration_cast<std::chrono::system_clock::duration>(timeout);
}

void ClientContext::AddMetadata(const std::string& key, const std::string& value) {
  // Validated here, reported when the call starts (INTERNAL, nothing sent): AddMetadata has no
  // way to return an error in grpc++'s API shape.
  if (setup_error_.ok()) {
    Status status = codec::ValidateMetadataKey(key);
    if (status.ok()) status = codec::ValidateMetadataValue(key, value);
    if (!status.ok()) setup_error_ = std::move(status);
  }
  client_metadata_.emplace(key, value);
}

void ClientContext::TryCancel() {
  // seq_cst pairs with the channel's bind-then-check (Dekker): either we see the bound call, or
  // the channel sees our flag right after binding, so a cancel is never lost.
  cancel_requested_.store(true, std::memory_order_seq_cst);
  if (internal::ClientCallState* call = bound_call_.load(std::memory_order_seq_cst)) {
    call->Cancel(Status(StatusCode::kCancelled, "call cancelled by the client"));
  }
}

std::string ClientContext::peer() const {
  internal::ClientCallState* call = bound_call_.load(std::memory_order_acquire);
  return call != nullptr ? call->peer() : std::string();
}

void ClientContext::internal_bind(std::shared_ptr<internal::ClientCallState> call) {
  internal::ClientCallState* raw = call.get();
  call_ = std::move(call);
  bound_call_.store(raw, std::memory_order_seq_cst);
}

}  // namespace h2rpc
