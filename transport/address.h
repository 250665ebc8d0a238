// Addresses: parsing targets and listen addresses, resolving, connecting and listening.
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>
#include <vector>

#include "codec/status.h"

namespace h2rpc::transport {

/// A parsed "host:port" / "[v6]:port" / ":port" / "dns:host:port".
/// (Unix-domain forms arrive with issue #6; `is_unix` is reserved for them.)
struct HostPort {
  std::string host;  // without brackets; empty for "all interfaces" on a server
  int port = 0;
};

/// Client target. Rejects a missing or out-of-range port with INVALID_ARGUMENT.
StatusOr<HostPort> ParseTarget(std::string_view target);
/// Server listen address; "" host or "0.0.0.0"/"[::]" mean all interfaces.
StatusOr<HostPort> ParseListenAddress(std::string_view address);

/// One resolved socket address.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  /// "ipv4:127.0.0.1:50051" / "ipv6:[::1]:50051" (gRPC's peer string form).
  std::string ToString() const;
};

/// getaddrinfo (blocking; call it off the hot path). IPv6 and IPv4 results in resolver order.
StatusOr<std::vector<SocketAddress>> Resolve(const HostPort& host_port, bool passive);

/// Starts a non-blocking connect (TCP_NODELAY, CLOEXEC). Returns the fd; the connect completes
/// when the fd becomes writable (check SO_ERROR). UNAVAILABLE on immediate failure.
StatusOr<int> StartConnect(const SocketAddress& address);
/// SO_ERROR of a socket whose non-blocking connect finished; OK or UNAVAILABLE with strerror.
Status FinishConnect(int fd);

/// Binds and listens (SO_REUSEADDR, non-blocking, CLOEXEC). For an IPv6 wildcard, dual-stack.
/// Returns the fd; `bound_port` receives the actual port (useful with port 0).
StatusOr<int> Listen(const SocketAddress& address, int* bound_port, int backlog = 1024);

/// Accepts one connection (non-blocking, CLOEXEC, TCP_NODELAY). -1 with errno on EAGAIN/error.
int AcceptConnection(int listen_fd, SocketAddress* peer);

/// Local or peer address of a connected socket.
SocketAddress PeerAddress(int fd);

}  // namespace h2rpc::transport
