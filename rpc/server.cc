// Server, ServerBuilder and ServerImpl: registry, routing, handler slots, dispatch, shutdown.
#include "rpc/server.h"

#include <algorithm>
#include <exception>
#include <thread>
#include <utility>

#include "codec/compression.h"
#include "codec/metadata.h"
#include "rpc/server_call.h"
#include "rpc/server_context.h"
#include "rpc/server_impl.h"

namespace h2rpc {

namespace internal {

namespace {

transport::ServerTransportOptions TransportOptions(const ServerOptions& o) {
  transport::ServerTransportOptions t;
  t.io_threads = std::max<uint32_t>(1, o.io_threads);
  t.max_concurrent_streams = std::max<uint32_t>(1, o.max_concurrent_calls);
  t.stream_window = o.stream_window;
  t.connection_window = o.connection_window;
  t.max_receive_message_size = o.max_receive_message_size;
  t.stream_send_budget = std::max<uint32_t>(1, o.stream_send_budget);
  t.limits.max_header_list_size = o.max_header_list_size;
  t.limits.stream_reset_burst = o.stream_reset_burst;
  t.limits.stream_reset_rate_per_s = o.stream_reset_rate_per_s;
  t.keepalive.time = o.keepalive_time;
  t.keepalive.timeout = o.keepalive_timeout;
  t.keepalive.min_time = o.keepalive_min_time;
  t.keepalive.permit_without_calls = o.keepalive_permit_without_calls;
  t.keepalive.max_ping_strikes = std::max(0, o.max_ping_strikes);
  t.keepalive.max_connection_idle = o.max_connection_idle;
  t.keepalive.max_connection_age = o.max_connection_age;
  t.keepalive.max_connection_age_grace = o.max_connection_age_grace;
  t.handshake_timeout = o.handshake_timeout;
  t.poll_before_sleep = o.poll_before_sleep;
  return t;
}

/// Steady-clock equivalent of a system-clock deadline, clamped so that far deadlines (even
/// time_point::max()) cannot overflow.
std::chrono::steady_clock::time_point ToSteady(std::chrono::system_clock::time_point deadline) {
  const auto sys_now = std::chrono::system_clock::now();
  const auto steady_now = std::chrono::steady_clock::now();
  if (deadline <= sys_now) return steady_now;
  constexpr auto kFar = std::chrono::hours(24 * 365 * 100);
  const auto left = deadline - sys_now;  // positive, and cannot overflow for deadline > now
  if (left > kFar) return steady_now + kFar;
  return steady_now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(left);
}

}  // namespace

// ---- ServerCallState ----

const Metadata& ServerCallState::client_metadata() {
  std::call_once(metadata_once_, [this] {
    for (const auto& [key, value] : head().metadata) {
      if (codec::IsBinaryKey(key)) {
        // Base64 was verified on the I/O thread (a bad value failed the stream there).
        auto decoded = codec::DecodeBinaryHeader(value);
        if (!decoded.ok()) continue;
        for (auto& v : *decoded) client_metadata_.emplace(key, std::move(v));
      } else {
        client_metadata_.emplace(key, value);
      }
    }
  });
  return client_metadata_;
}

void ServerCallState::FreezeCompression() {
  if (compression_frozen) return;
  compression_frozen = true;
  codec::Compression c = requested_compression.value_or(server_->options().default_compression);
  if (c != codec::Compression::kIdentity && !codec::AcceptsEncoding(head().accept_encoding, c)) {
    c = codec::Compression::kIdentity;  // the client cannot read it: send uncompressed
  }
  response_compression_ = c;
  if (c != codec::Compression::kIdentity) set_response_encoding(codec::CompressionName(c));
}

// ---- ServerImpl ----

ServerImpl::ServerImpl(const ServerOptions& options,
                       std::unordered_map<std::string, MethodEntry> methods,
                       GenericHandler fallback)
    : options_(options),
      methods_(std::move(methods)),
      pool_(options.max_idle_handler_threads,
            [this](HandlerPool::Task call) { RunCall(std::move(call)); }) {
  for (const auto& [path, entry] : methods_) {
    auto parsed = codec::ParsePath(path);
    if (parsed.ok()) services_.insert(parsed->first);
  }
  if (fallback) {
    fallback_ = MethodEntry{"", RpcKind::kBidiStreaming, std::move(fallback)};
    has_fallback_ = true;
  }
  transport_ = std::make_unique<transport::ServerTransport>(TransportOptions(options_), this);
}

ServerImpl::~ServerImpl() {
  Shutdown(std::chrono::system_clock::now());
  Wait();
}

Status ServerImpl::AddListeningPort(const std::string& address, int* port,
                                    const std::shared_ptr<ServerCredentials>& credentials) {
  if (credentials && !credentials->status().ok()) {
    if (port != nullptr) *port = 0;
    return Status(credentials->status().code(), "invalid server credentials for " + address + ": " +
                                                    credentials->status().message());
  }
  return transport_->AddListener(
      address, port,
      credentials && credentials->is_secure() ? credentials->internal_tls() : nullptr);
}

void ServerImpl::Start() {
  std::lock_guard<std::mutex> lock(shutdown_mu_);
  started_ = true;
  transport_->Start();
}

bool ServerImpl::shutdown_started() const {
  std::lock_guard<std::mutex> lock(shutdown_mu_);
  return shutdown_started_;
}

// One allocation per call: keep it within glibc's per-thread cache (tcache serves requests up to
// 1032 bytes; make_shared adds its control block). Beyond it every call pays the slower arena
// path, measured at ~1,000 instructions per call.
static_assert(sizeof(ServerCallState) + 32 <= 1032, "ServerCallState outgrew malloc's tcache");

std::shared_ptr<transport::ServerStream> ServerImpl::NewStream() {
  return std::allocate_shared<ServerCallState>(
      transport::RecyclingAllocator<ServerCallState>(&call_blocks_), this);
}

transport::RouteResult ServerImpl::Route(transport::ServerStream& stream) {
  auto& call = static_cast<ServerCallState&>(stream);
  const codec::RequestHead& head = call.head();
  transport::RouteResult result;
  auto it = methods_.find(head.path);
  if (it != methods_.end()) {
    call.method = &it->second;
  } else if (has_fallback_) {
    call.method = &fallback_;
  } else if (services_.count(head.service) == 0) {
    result.status = Status(StatusCode::kUnimplemented, "unknown service " + head.service);
    return result;
  } else {
    result.status = Status(StatusCode::kUnimplemented,
                           "unknown method " + head.method + " for service " + head.service);
    return result;
  }
  const RpcKind kind = call.method->kind;
  const bool single = kind == RpcKind::kUnary || kind == RpcKind::kServerStreaming;
  result.dispatch_at_end_of_stream = single;
  result.single_request = single;
  return result;
}

bool ServerImpl::AtCapacity() const {
  return running_.load(std::memory_order_acquire) >=
         static_cast<int64_t>(std::max<uint32_t>(1, options_.max_concurrent_calls));
}

bool ServerImpl::Dispatch(const std::shared_ptr<transport::ServerStream>& stream) {
  const auto cap = static_cast<int64_t>(std::max<uint32_t>(1, options_.max_concurrent_calls));
  if (running_.fetch_add(1, std::memory_order_acq_rel) >= cap) {
    running_.fetch_sub(1, std::memory_order_acq_rel);
    return false;
  }
  pool_.Run(std::static_pointer_cast<ServerCallState>(stream));
  return true;
}

void ServerImpl::RunCall(std::shared_ptr<ServerCallState> call) {
  {
    ServerContext context(call);
    ServerCall server_call(call);
    call->context = &context;
    Status status;
    try {
      status = call->method->handler(context, server_call);
    } catch (const std::exception& e) {
      status = Status(StatusCode::kUnknown, e.what());
    } catch (...) {
      status = Status(StatusCode::kUnknown,
                      "the handler threw an exception that is not a std::exception");
    }
    if (status.ok() && call->metadata_error) status = *call->metadata_error;
    // The slot is free once the handler has returned, whatever the stream is doing; and before
    // the status goes out: a client that sees its stream close and, respecting
    // MAX_CONCURRENT_STREAMS, opens the next one must find the slot free, not be refused.
    running_.fetch_sub(1, std::memory_order_acq_rel);
    // Nothing is sent if the call is already over (cancelled, failed, deadline).
    call->Finish(status, call->trailing_metadata);
    call->context = nullptr;
  }
}

void ServerImpl::Shutdown(std::chrono::system_clock::time_point deadline) {
  {
    std::unique_lock<std::mutex> lock(shutdown_mu_);
    if (shutdown_started_) {
      shutdown_cv_.wait(lock, [this] { return shutdown_done_; });
      return;
    }
    shutdown_started_ = true;
  }
  if (started_) {
    const auto until = ToSteady(deadline);
    transport_->BeginShutdown(until);
    // Running calls may finish until the deadline; connections close once their streams are
    // done and the final GOAWAY left.
    while (std::chrono::steady_clock::now() < until) {
      if (transport_->connection_count() == 0 && running_handlers() == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    // The rest is cancelled: handlers see IsCancelled() and Read/Write return false.
    transport_->CancelAll();
    while (running_handlers() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    // A moment for the RST_STREAMs and GOAWAYs to leave before the sockets close.
    const auto flush_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    while (transport_->connection_count() > 0 && std::chrono::steady_clock::now() < flush_until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  transport_->Stop();
  pool_.Shutdown();
  {
    std::lock_guard<std::mutex> lock(shutdown_mu_);
    shutdown_done_ = true;
  }
  shutdown_cv_.notify_all();
}

void ServerImpl::Wait() {
  std::unique_lock<std::mutex> lock(shutdown_mu_);
  shutdown_cv_.wait(lock, [this] { return shutdown_done_; });
}

}  // namespace internal

// ---- Server ----

Server::Server(std::unique_ptr<internal::ServerImpl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  if (impl_) {
    impl_->Shutdown(std::chrono::system_clock::now());
    impl_->Wait();
  }
}

void Server::Shutdown(std::chrono::system_clock::time_point deadline) { impl_->Shutdown(deadline); }

void Server::Shutdown() { impl_->Shutdown(std::chrono::system_clock::now()); }

void Server::Wait() { impl_->Wait(); }

const std::vector<int>& Server::ports() const { return impl_->ports(); }

// ---- ServerBuilder ----

ServerBuilder::ServerBuilder() = default;
ServerBuilder::~ServerBuilder() = default;

ServerBuilder& ServerBuilder::AddListeningPort(const std::string& address, int* selected_port) {
  ports_.push_back(Port{address, selected_port, nullptr});
  return *this;
}

ServerBuilder& ServerBuilder::AddListeningPort(const std::string& address,
                                               std::shared_ptr<ServerCredentials> credentials,
                                               int* selected_port) {
  ports_.push_back(Port{address, selected_port, std::move(credentials)});
  return *this;
}

ServerBuilder& ServerBuilder::RegisterService(Service* service) {
  if (service != nullptr) {
    for (const MethodHandler& m : service->methods()) methods_.push_back(m);
    services_.push_back(service);
  }
  return *this;
}

ServerBuilder& ServerBuilder::RegisterMethod(const std::string& path, RpcKind kind,
                                             GenericHandler handler) {
  methods_.push_back(MethodHandler{path, kind, std::move(handler)});
  return *this;
}

ServerBuilder& ServerBuilder::SetFallbackHandler(GenericHandler handler) {
  fallback_ = std::move(handler);
  return *this;
}

ServerBuilder& ServerBuilder::SetMaxReceiveMessageSize(int bytes) {
  // Negative means unlimited, as in grpc++.
  options_.max_receive_message_size = bytes < 0 ? 0xffffffffu : static_cast<uint32_t>(bytes);
  return *this;
}

ServerBuilder& ServerBuilder::SetMaxSendMessageSize(int bytes) {
  options_.max_send_message_size = bytes < 0 ? 0xffffffffu : static_cast<uint32_t>(bytes);
  return *this;
}

ServerBuilder& ServerBuilder::SetMaxConcurrentCalls(int calls) {
  options_.max_concurrent_calls = calls < 1 ? 1u : static_cast<uint32_t>(calls);
  return *this;
}

ServerBuilder& ServerBuilder::SetDefaultCompressionAlgorithm(Compression c) {
  options_.default_compression = c;
  return *this;
}

ServerBuilder& ServerBuilder::SetOptions(const ServerOptions& options) {
  options_ = options;
  return *this;
}

std::unique_ptr<Server> ServerBuilder::BuildAndStart() {
  error_ = Status();
  for (const Port& p : ports_) {
    if (p.selected != nullptr) *p.selected = 0;
  }
  std::unordered_map<std::string, internal::MethodEntry> table;
  for (const MethodHandler& m : methods_) {
    if (auto parsed = codec::ParsePath(m.path); !parsed.ok()) {
      error_ = Status(StatusCode::kInvalidArgument,
                      "method path \"" + m.path + "\" is not of the form /package.Service/Method");
      return nullptr;
    }
    if (!m.handler) {
      error_ = Status(StatusCode::kInvalidArgument, "method " + m.path + " has no handler");
      return nullptr;
    }
    if (!table.emplace(m.path, internal::MethodEntry{m.path, m.kind, m.handler}).second) {
      error_ = Status(StatusCode::kAlreadyExists, "method " + m.path + " is registered twice");
      return nullptr;
    }
  }
  if (options_.stream_window < 65535 || options_.stream_window > 0x7fffffffu ||
      options_.connection_window < 65535 || options_.connection_window > 0x7fffffffu) {
    error_ = Status(StatusCode::kInvalidArgument,
                    "stream_window and connection_window must be within 65535..2^31-1");
    return nullptr;
  }
  auto impl = std::make_unique<internal::ServerImpl>(options_, std::move(table), fallback_);
  for (const Port& p : ports_) {
    int port = 0;
    Status s = impl->AddListeningPort(p.address, &port, p.credentials);
    if (!s.ok()) {
      error_ = s;
      for (const Port& q : ports_) {
        if (q.selected != nullptr) *q.selected = 0;
      }
      return nullptr;
    }
    if (p.selected != nullptr) *p.selected = port;
    impl->ports().push_back(port);
  }
  std::vector<std::string> service_names;
  for (const MethodHandler& m : methods_) {
    service_names.push_back(codec::ParsePath(m.path)->first);
  }
  std::sort(service_names.begin(), service_names.end());
  service_names.erase(std::unique(service_names.begin(), service_names.end()), service_names.end());
  for (Service* service : services_) service->OnServerStarting(service_names);
  impl->Start();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

}  // namespace h2rpc
