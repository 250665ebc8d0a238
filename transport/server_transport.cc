#include "transport/server_transport.h"

#include <netinet/in.h>
#include <unistd.h>

#include <cstdlib>

#include "transport/address.h"
#include "transport/server_connection.h"
#include "transport/unix_address.h"

namespace h2rpc::transport {

void* MakeServerCallbacks();  // server_connection.cc
void FreeServerCallbacks(void* callbacks);

ServerTransport::ServerTransport(const ServerTransportOptions& options,
                                 ServerStreamHandler* handler)
    : options_(options), handler_(handler), callbacks_(MakeServerCallbacks()) {
  if (callbacks_ == nullptr) std::abort();  // out of memory before the server even started
  if (options_.io_threads == 0) options_.io_threads = 1;
  if (options_.max_concurrent_streams == 0) options_.max_concurrent_streams = 1;
  for (uint32_t i = 0; i < options_.io_threads; ++i) {
    threads_.push_back(std::make_unique<ServerIoThread>(this));
  }
}

ServerTransport::~ServerTransport() {
  Stop();
  threads_.clear();
  FreeServerCallbacks(callbacks_);
}

Status ServerTransport::AddListener(const std::string& address, int* port,
                                    std::shared_ptr<const TlsContext> tls) {
  if (port != nullptr) *port = 0;
  auto host_port = ParseListenAddress(address);
  if (!host_port.ok()) return host_port.status();
  auto resolved = Resolve(*host_port, /*passive=*/true);
  if (!resolved.ok()) return resolved.status();
  // A wildcard resolves to [::] and 0.0.0.0: the first that binds is enough, since the IPv6 one
  // is dual-stack. A name (e.g. "localhost") gets every address it resolves to, on one port.
  const bool wildcard = host_port->host.empty() || host_port->host == "0.0.0.0";
  int bound_port = host_port->port;
  Status first_error;
  int bound = 0;
  for (SocketAddress addr : *resolved) {
    if (bound_port != 0 && addr.family() != AF_UNIX) {
      if (addr.family() == AF_INET) {
        reinterpret_cast<sockaddr_in*>(&addr.storage)->sin_port =
            htons(static_cast<uint16_t>(bound_port));
      } else if (addr.family() == AF_INET6) {
        reinterpret_cast<sockaddr_in6*>(&addr.storage)->sin6_port =
            htons(static_cast<uint16_t>(bound_port));
      }
    }
    int actual = 0;
    auto fd = Listen(addr, &actual);
    if (!fd.ok()) {
      if (first_error.ok()) first_error = fd.status();
      continue;
    }
    listen_fds_.push_back(Listener{*fd, tls});
    if (addr.family() == AF_UNIX) {
      if (auto file = BoundSocketFile::Capture(addr)) socket_files_.push_back(std::move(*file));
    }
    bound_port = actual;
    ++bound;
    if (wildcard) break;
  }
  if (bound == 0)
    return first_error.ok() ? Status(StatusCode::kUnavailable, "no address to bind") : first_error;
  if (port != nullptr) *port = bound_port;
  return Status();
}

void ServerTransport::Start() {
  if (started_) return;
  started_ = true;
  // Listeners belong to I/O thread 0 (added before it runs, so no race).
  for (Listener& listener : listen_fds_) threads_[0]->AddListener(listener.fd, listener.tls);
  listen_fds_.clear();
  for (auto& thread : threads_) thread->Start();
}

ServerIoThread* ServerTransport::NextIoThread() {
  const uint32_t i = next_thread_.fetch_add(1, std::memory_order_relaxed);
  return threads_[i % threads_.size()].get();
}

void ServerTransport::PostAll(ServerCommandType type) {
  for (auto& thread : threads_) thread->Post(ServerCommand{type, -1, nullptr, nullptr, nullptr});
}

void ServerTransport::BeginShutdown(std::chrono::steady_clock::time_point final_goaway_by) {
  if (!started_ || stopped_) return;
  final_goaway_by_.store(final_goaway_by.time_since_epoch().count(), std::memory_order_release);
  PostAll(ServerCommandType::kBeginShutdown);
}

void ServerTransport::CancelAll() {
  if (!started_ || stopped_) return;
  PostAll(ServerCommandType::kCancelAll);
}

void ServerTransport::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (started_) {
    PostAll(ServerCommandType::kStop);
    for (auto& thread : threads_) thread->Join();
  }
  for (const Listener& listener : listen_fds_) ::close(listener.fd);
  listen_fds_.clear();
  // The listeners are closed: clients now find no socket file rather than a refusing one.
  for (const BoundSocketFile& file : socket_files_) file.RemoveIfStillOurs();
  socket_files_.clear();
}

ServerTransportStats ServerTransport::stats() const {
  ServerTransportStats s;
  s.connections = connections_.load(std::memory_order_acquire);
  s.connections_total = connections_total_.load(std::memory_order_relaxed);
  s.refused_streams = refused_streams_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace h2rpc::transport
