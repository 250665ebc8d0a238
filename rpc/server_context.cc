#include "rpc/server_context.h"

#include <utility>

#include "codec/metadata.h"
#include "rpc/server_call_state.h"

namespace h2rpc {

ServerContext::ServerContext(std::shared_ptr<internal::ServerCallState> call)
    : call_(std::move(call)) {}

ServerContext::~ServerContext() = default;

std::chrono::system_clock::time_point ServerContext::deadline() const { return call_->deadline(); }

const Metadata& ServerContext::client_metadata() const { return call_->client_metadata(); }

bool ServerContext::IsCancelled() const { return call_->IsCancelled(); }

void ServerContext::OnCancel(std::function<void()> callback) {
  call_->SetCancelCallback(std::move(callback));
}

namespace {

/// Validates one metadata pair; the first failure is kept and ends the call INTERNAL (a handler
/// bug should be visible, not silently dropped on the wire).
bool Accept(internal::ServerCallState& call, const std::string& key, const std::string& value) {
  Status s = codec::ValidateMetadataKey(key);
  if (s.ok()) s = codec::ValidateMetadataValue(key, value);
  if (s.ok()) return true;
  if (!call.metadata_error) call.metadata_error = std::make_unique<Status>(std::move(s));
  return false;
}

}  // namespace

void ServerContext::AddInitialMetadata(const std::string& key, const std::string& value) {
  if (call_->headers_requested()) return;  // documented: ignored once headers are on their way
  if (!Accept(*call_, key, value)) return;
  call_->response_metadata().emplace_back(key, codec::EncodeMetadataValue(key, value));
}

void ServerContext::AddTrailingMetadata(const std::string& key, const std::string& value) {
  if (call_->IsDone()) return;
  if (!Accept(*call_, key, value)) return;
  call_->trailing_metadata.emplace_back(key, codec::EncodeMetadataValue(key, value));
}

void ServerContext::set_compression_algorithm(codec::Compression c) {
  if (!call_->compression_frozen) call_->requested_compression = c;
}

std::string ServerContext::peer() const { return call_->peer(); }

const PeerIdentity& ServerContext::peer_identity() const {
  static const PeerIdentity kPlaintext;
  const PeerIdentity* identity = call_->peer_identity();
  return identity != nullptr ? *identity : kPlaintext;
}

const std::string& ServerContext::method() const { return call_->head().path; }

const std::string& ServerContext::authority() const { return call_->head().authority; }

}  // namespace h2rpc
