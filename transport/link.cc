#include "transport/link.h"

#include <unistd.h>

#include <cstring>

namespace h2rpc::transport {

Status Link::UseTls(int fd, const std::shared_ptr<const TlsContext>& context,
                    const std::string& verify_host, const std::string& session_key) {
  fd_ = fd;
  return context->NewSession(fd, verify_host, session_key, &tls_);
}

ssize_t Link::Read(uint8_t* buf, size_t len) {
  return tls_ ? tls_->Read(buf, len) : ::read(fd_, buf, len);
}

std::string Link::ErrorText(int err) const {
  if (tls_ && !tls_->error().empty()) return tls_->error();
  return std::strerror(err);
}

const std::string& Link::error() const {
  static const std::string kNone;
  return tls_ ? tls_->error() : kNone;
}

}  // namespace h2rpc::transport
