// Addresses: parsing targets and listen addresses, resolving, connecting and listening.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codec/status.h"

namespace h2rpc::transport {

/// One resolved socket address.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  /// gRPC's peer string form: "ipv4:127.0.0.1:50051", "ipv6:[::1]:50051", "unix:/path",
  /// "unix-abstract:name".
  std::string ToString() const;
};

/// A parsed "host:port" / "[v6]:port" / ":port" / "dns:host:port", or a unix socket
/// ("unix:path", "unix:///abs/path", "unix-abstract:name"; see unix_address.h).
struct HostPort {
  std::string host;  // without brackets; empty for "all interfaces" on a server
  int port = 0;      // 0 for unix sockets
  /// Set for the unix forms: the address itself, nothing to resolve.
  std::optional<SocketAddress> unix_address;
};

/// Client target. Rejects a missing or out-of-range port, or a bad unix path, with
/// INVALID_ARGUMENT.
StatusOr<HostPort> ParseTarget(std::string_view target);
/// Server listen address; "" host or "0.0.0.0"/"[::]" mean all interfaces. Unix forms as for
/// ParseTarget.
StatusOr<HostPort> ParseListenAddress(std::string_view address);
/// The :authority a client sends for `target`: the target minus its resolver scheme, and
/// "localhost" for unix sockets (as grpc does).
std::string TargetAuthority(std::string_view target);

/// getaddrinfo (blocking; call it off the hot path). IPv6 and IPv4 results in resolver order.
/// A unix address resolves to itself without a lookup.
StatusOr<std::vector<SocketAddress>> Resolve(const HostPort& host_port, bool passive);

/// Starts a non-blocking connect (CLOEXEC; TCP_NODELAY for TCP). Returns the fd; the connect
/// completes when the fd becomes writable (check SO_ERROR). UNAVAILABLE on immediate failure.
StatusOr<int> StartConnect(const SocketAddress& address);
/// SO_ERROR of a socket whose non-blocking connect finished; OK or UNAVAILABLE with strerror.
Status FinishConnect(int fd);

/// Binds and listens (SO_REUSEADDR, non-blocking, CLOEXEC). For an IPv6 wildcard, dual-stack.
/// Returns the fd; `bound_port` receives the actual port (useful with port 0; 0 for unix
/// sockets). A unix socket path first goes through ClearStaleSocketFile.
StatusOr<int> Listen(const SocketAddress& address, int* bound_port, int backlog = 1024);

/// Accepts one connection (non-blocking, CLOEXEC; TCP_NODELAY for TCP). -1 with errno on
/// EAGAIN/error.
int AcceptConnection(int listen_fd, SocketAddress* peer);

/// Local or peer address of a connected socket.
SocketAddress PeerAddress(int fd);

}  // namespace h2rpc::transport
