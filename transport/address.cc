#include "transport/address.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "transport/unix_address.h"

namespace h2rpc::transport {

namespace {

Status Invalid(std::string_view what, std::string_view value) {
  return Status(StatusCode::kInvalidArgument,
                std::string(what) + ": \"" + std::string(value) + "\"");
}

StatusOr<HostPort> SplitHostPort(std::string_view text, bool allow_empty_host) {
  const std::string_view original = text;
  HostPort out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return Invalid("unterminated '[' in address", original);
    out.host = std::string(text.substr(1, close - 1));
    text.remove_prefix(close + 1);
    if (text.empty() || text.front() != ':') return Invalid("missing port in address", original);
    port_text = text.substr(1);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return Invalid("missing port in address", original);
    if (text.find(':') != colon)
      return Invalid("IPv6 addresses need brackets, as in [::1]:port", original);
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (out.host.empty() && !allow_empty_host) return Invalid("missing host in target", original);
  int port = -1;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    return Invalid("bad port in address", original);
  }
  out.port = port;
  return out;
}

void SetCommonOptions(int fd, int family) {
  // Nagle only exists for TCP; a unix socket has no such option.
  if (family != AF_INET && family != AF_INET6) return;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

StatusOr<HostPort> ParseUnix(std::string_view address) {
  StatusOr<SocketAddress> unix_address = ParseUnixAddress(address);
  if (!unix_address.ok()) return unix_address.status();
  HostPort out;
  out.unix_address = *unix_address;
  return out;
}

/// "dns:host:port" and "dns://authority/host:port" without the scheme (authority ignored).
StatusOr<std::string_view> StripDnsScheme(std::string_view target) {
  if (target.substr(0, 4) != "dns:") return target;
  target.remove_prefix(4);
  if (target.substr(0, 2) == "//") {
    const size_t slash = target.find('/', 2);
    if (slash == std::string_view::npos) return Invalid("bad dns target", target);
    target.remove_prefix(slash + 1);
  }
  return target;
}

}  // namespace

StatusOr<HostPort> ParseTarget(std::string_view target) {
  if (IsUnixAddress(target)) return ParseUnix(target);
  StatusOr<std::string_view> host_port = StripDnsScheme(target);
  if (!host_port.ok()) return host_port.status();
  auto hp = SplitHostPort(*host_port, /*allow_empty_host=*/false);
  if (hp.ok() && hp->port == 0) return Invalid("port 0 is not a valid target", *host_port);
  return hp;
}

StatusOr<HostPort> ParseListenAddress(std::string_view address) {
  if (IsUnixAddress(address)) return ParseUnix(address);
  auto hp = SplitHostPort(address, /*allow_empty_host=*/true);
  if (!hp.ok()) return hp;
  if (hp->host == "0.0.0.0" || hp->host == "::" || hp->host == "*") {
    if (hp->host != "0.0.0.0") hp->host.clear();
  }
  return hp;
}

std::string TargetAuthority(std::string_view target) {
  if (IsUnixAddress(target)) return "localhost";
  StatusOr<std::string_view> host_port = StripDnsScheme(target);
  return std::string(host_port.ok() ? *host_port : std::string_view());
}

std::string SocketAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    return std::string("ipv4:") + buf + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (storage.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    return std::string("ipv6:[") + buf + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  if (storage.ss_family == AF_UNIX) return UnixAddressToString(*this);
  return "unknown";
}

StatusOr<std::vector<SocketAddress>> Resolve(const HostPort& host_port, bool passive) {
  if (host_port.unix_address) return std::vector<SocketAddress>{*host_port.unix_address};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  if (!passive) hints.ai_flags |= AI_ADDRCONFIG;
  addrinfo* result = nullptr;
  const std::string port = std::to_string(host_port.port);
  const char* host = host_port.host.empty() ? nullptr : host_port.host.c_str();
  int rc = getaddrinfo(host, port.c_str(), &hints, &result);
  if (rc != 0 && !passive && rc == EAI_NONAME) {
    // AI_ADDRCONFIG hides loopback-only families on hosts without a configured address.
    hints.ai_flags &= ~AI_ADDRCONFIG;
    rc = getaddrinfo(host, port.c_str(), &hints, &result);
  }
  if (rc != 0) {
    return Status(StatusCode::kUnavailable,
                  "cannot resolve \"" + host_port.host + "\": " + gai_strerror(rc));
  }
  std::vector<SocketAddress> out;
  for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    SocketAddress a;
    std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
    a.length = ai->ai_addrlen;
    out.push_back(a);
  }
  freeaddrinfo(result);
  if (passive && host == nullptr) {
    // Prefer one dual-stack IPv6 wildcard socket over separate v4/v6 ones.
    std::stable_partition(out.begin(), out.end(),
                          [](const SocketAddress& a) { return a.family() == AF_INET6; });
  }
  if (out.empty())
    return Status(StatusCode::kUnavailable, "no address for \"" + host_port.host + "\"");
  return out;
}

StatusOr<int> StartConnect(const SocketAddress& address) {
  int fd = socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return Status(StatusCode::kUnavailable, std::string("socket: ") + std::strerror(errno));
  SetCommonOptions(fd, address.family());
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length);
  // A unix socket connects at once or fails (EAGAIN: the server's backlog is full) — it never
  // reports EINPROGRESS; a failure is retried with backoff like a refused TCP connect.
  if (rc != 0 && errno != EINPROGRESS) {
    int err = errno;
    close(fd);
    return Status(StatusCode::kUnavailable,
                  "connect to " + address.ToString() + " failed: " + std::strerror(err));
  }
  return fd;
}

Status FinishConnect(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0)
    return Status(StatusCode::kUnavailable, std::string("connect failed: ") + std::strerror(err));
  return Status();
}

StatusOr<int> Listen(const SocketAddress& address, int* bound_port, int backlog) {
  if (address.family() == AF_UNIX) {
    if (Status cleared = ClearStaleSocketFile(address); !cleared.ok()) return cleared;
  }
  int fd = socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return Status(StatusCode::kUnavailable, std::string("socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (address.family() == AF_INET6) {
    int zero = 0;  // dual-stack wildcard: also accept IPv4
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length) != 0 ||
      listen(fd, backlog) != 0) {
    int err = errno;
    close(fd);
    return Status(StatusCode::kUnavailable,
                  "cannot listen on " + address.ToString() + ": " + std::strerror(err));
  }
  SocketAddress local;
  local.length = sizeof local.storage;
  getsockname(fd, reinterpret_cast<sockaddr*>(&local.storage), &local.length);
  if (bound_port != nullptr) {
    *bound_port = local.family() == AF_UNIX ? 0
                  : local.family() == AF_INET
                      ? ntohs(reinterpret_cast<sockaddr_in*>(&local.storage)->sin_port)
                      : ntohs(reinterpret_cast<sockaddr_in6*>(&local.storage)->sin6_port);
  }
  return fd;
}

int AcceptConnection(int listen_fd, SocketAddress* peer) {
  SocketAddress tmp;
  tmp.length = sizeof tmp.storage;
  int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&tmp.storage), &tmp.length,
                   SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return -1;
  SetCommonOptions(fd, tmp.family());
  if (peer != nullptr) *peer = tmp;
  return fd;
}

SocketAddress PeerAddress(int fd) {
  SocketAddress a;
  a.length = sizeof a.storage;
  getpeername(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.length);
  return a;
}

}  // namespace h2rpc::transport
