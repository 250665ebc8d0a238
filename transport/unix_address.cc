#include "transport/unix_address.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

namespace h2rpc::transport {

namespace {

constexpr std::string_view kUnixScheme = "unix:";
constexpr std::string_view kAbstractScheme = "unix-abstract:";
// One byte of sun_path is the terminator of a path, or the leading NUL of an abstract name.
constexpr size_t kMaxUnixName = sizeof(sockaddr_un::sun_path) - 1;
constexpr socklen_t kSunPathOffset = offsetof(sockaddr_un, sun_path);

Status Invalid(std::string message, std::string_view text) {
  return Status(StatusCode::kInvalidArgument, message + ": \"" + std::string(text) + "\"");
}

SocketAddress MakeUnixAddress(std::string_view name, bool abstract) {
  SocketAddress out;
  auto* un = reinterpret_cast<sockaddr_un*>(&out.storage);
  un->sun_family = AF_UNIX;
  const size_t first = abstract ? 1 : 0;  // sun_path[0] = '\0' marks the abstract namespace
  std::memcpy(un->sun_path + first, name.data(), name.size());
  // An abstract name is exactly its bytes; a path also counts its terminator.
  out.length = static_cast<socklen_t>(kSunPathOffset + first + name.size() + (abstract ? 0 : 1));
  return out;
}

const sockaddr_un& AsUnix(const SocketAddress& address) {
  return *reinterpret_cast<const sockaddr_un*>(&address.storage);
}

bool IsAbstract(const SocketAddress& address) {
  return address.length > kSunPathOffset && AsUnix(address).sun_path[0] == '\0';
}

/// The filesystem path of a path address ("" for abstract or unnamed ones).
std::string FilePath(const SocketAddress& address) {
  if (address.length <= kSunPathOffset || IsAbstract(address)) return "";
  const sockaddr_un& un = AsUnix(address);
  const size_t room = std::min<size_t>(address.length - kSunPathOffset, sizeof un.sun_path);
  return std::string(un.sun_path, strnlen(un.sun_path, room));
}

}  // namespace

bool IsUnixAddress(std::string_view text) {
  return text.substr(0, kUnixScheme.size()) == kUnixScheme ||
         text.substr(0, kAbstractScheme.size()) == kAbstractScheme;
}

StatusOr<SocketAddress> ParseUnixAddress(std::string_view text) {
  const bool abstract = text.substr(0, kAbstractScheme.size()) == kAbstractScheme;
  if (!abstract && text.substr(0, kUnixScheme.size()) != kUnixScheme)
    return Invalid("not a unix: or unix-abstract: address", text);
  std::string_view name = text.substr(abstract ? kAbstractScheme.size() : kUnixScheme.size());
  if (!abstract && name.substr(0, 2) == "//") {
    // URI form: unix://<authority><path>; only an empty authority means anything here.
    name.remove_prefix(2);
    if (name.empty() || name.front() != '/')
      return Invalid("unix:// needs an absolute path and no host, as in unix:///tmp/x.sock", text);
  }
  if (name.empty())
    return Invalid(abstract ? "empty abstract socket name" : "empty unix socket path", text);
  if (!abstract && name.find('\0') != std::string_view::npos)
    return Invalid("unix socket path contains a NUL byte", text);
  if (name.size() > kMaxUnixName) {
    return Invalid(std::string(abstract ? "abstract socket name" : "unix socket path") + " is " +
                       std::to_string(name.size()) + " bytes, more than the " +
                       std::to_string(kMaxUnixName) + " that fit in sockaddr_un",
                   text);
  }
  return MakeUnixAddress(name, abstract);
}

std::string UnixAddressToString(const SocketAddress& address) {
  if (IsAbstract(address)) {
    const sockaddr_un& un = AsUnix(address);
    return std::string(kAbstractScheme) +
           std::string(un.sun_path + 1, address.length - kSunPathOffset - 1);
  }
  return std::string(kUnixScheme) + FilePath(address);
}

Status ClearStaleSocketFile(const SocketAddress& address) {
  const std::string path = FilePath(address);
  if (path.empty()) return Status();
  const std::string where = "cannot listen on " + UnixAddressToString(address) + ": ";
  struct stat info {};
  if (lstat(path.c_str(), &info) != 0) return Status();  // absent (or unreadable: bind says)
  if (!S_ISSOCK(info.st_mode)) {
    return Status(StatusCode::kUnavailable,
                  where + "the file exists and is not a socket (left untouched)");
  }
  // A socket file: is anyone listening? Non-blocking, so a full backlog cannot stall us.
  const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0) return Status(StatusCode::kUnavailable, where + "socket: " + strerror(errno));
  const int rc =
      connect(probe, reinterpret_cast<const sockaddr*>(&address.storage), address.length);
  const int err = rc == 0 ? 0 : errno;
  close(probe);
  if (err == ENOENT) return Status();  // removed meanwhile
  if (err == 0 || err == EAGAIN) {
    return Status(StatusCode::kUnavailable, where + "address in use (a server is listening)");
  }
  if (err != ECONNREFUSED) {
    return Status(StatusCode::kUnavailable,
                  where + "a socket file is there and probing it failed: " + strerror(err));
  }
  // Refused: left behind by a server that ended without removing it.
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status(StatusCode::kUnavailable,
                  where + "cannot remove the stale socket file: " + strerror(errno));
  }
  return Status();
}

std::optional<BoundSocketFile> BoundSocketFile::Capture(const SocketAddress& address) {
  std::string path = FilePath(address);
  if (path.empty()) return std::nullopt;
  struct stat info {};
  if (lstat(path.c_str(), &info) != 0) return std::nullopt;
  return BoundSocketFile(std::move(path), info.st_dev, info.st_ino);
}

void BoundSocketFile::RemoveIfStillOurs() const {
  struct stat info {};
  if (lstat(path_.c_str(), &info) != 0) return;
  if (info.st_dev == device_ && info.st_ino == inode_ && S_ISSOCK(info.st_mode)) {
    unlink(path_.c_str());
  }
}

}  // namespace h2rpc::transport
