// Unix-domain socket addresses: gRPC's "unix:" and "unix-abstract:" forms, their peer strings,
// and the socket file a server binds (stale-file recovery, removal on shutdown).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "codec/status.h"
#include "transport/address.h"

namespace h2rpc::transport {

/// True if `text` names a unix socket ("unix:..." or "unix-abstract:..."), valid or not.
bool IsUnixAddress(std::string_view text);

/// gRPC's naming forms (doc/naming.md):
///   unix:path         relative to the working directory at connect/bind time, or absolute;
///   unix:///abs/path  the URI form (an authority other than empty is rejected);
///   unix-abstract:name  Linux abstract namespace: sun_path[0] = '\0' followed by the name's
///                       exact bytes (any bytes, NUL included); the address length counts them.
/// No percent-decoding: the text after the scheme is the path or name as is.
/// INVALID_ARGUMENT for an empty path or name, a NUL inside a path, or one longer than
/// sizeof(sun_path) - 1 bytes (the kernel would silently cut it, or need a terminator).
StatusOr<SocketAddress> ParseUnixAddress(std::string_view text);

/// gRPC's peer strings: "unix:/path", "unix-abstract:name", and "unix:" for the unnamed
/// socket a client connects from.
std::string UnixAddressToString(const SocketAddress& address);

/// Before a server binds a filesystem socket path. A file left there by a crashed server (a
/// socket nobody listens on: connect() is refused) is removed; a live server there, or a file
/// that is not a socket, fails with UNAVAILABLE and the file is left alone. Nothing to do for
/// abstract names or a path that does not exist.
Status ClearStaleSocketFile(const SocketAddress& address);

/// The socket file a server bound, identified by device and inode, so that shutting down
/// removes it only if it is still ours (not one a newer server bound at the same path).
class BoundSocketFile {
 public:
  /// Right after bind(); nullopt for abstract names (no file) or if the path cannot be stat'ed.
  static std::optional<BoundSocketFile> Capture(const SocketAddress& address);
  /// Unlinks the path if it still is the file bound; anything else there is left alone.
  void RemoveIfStillOurs() const;

 private:
  BoundSocketFile(std::string path, dev_t device, ino_t inode)
      : path_(std::move(path)), device_(device), inode_(inode) {}
  std::string path_;
  dev_t device_;
  ino_t inode_;
};

}  // namespace h2rpc::transport
