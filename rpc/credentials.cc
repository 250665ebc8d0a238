#include "rpc/credentials.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace h2rpc {

std::shared_ptr<ChannelCredentials> InsecureChannelCredentials() {
  return std::shared_ptr<ChannelCredentials>(new ChannelCredentials());
}

std::shared_ptr<ServerCredentials> InsecureServerCredentials() {
  return std::shared_ptr<ServerCredentials>(new ServerCredentials());
}

Status ReadPemFile(const std::string& path, std::string* contents) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status(StatusCode::kNotFound, "cannot open " + path + ": " + std::strerror(errno));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return Status(StatusCode::kInvalidArgument, "cannot read " + path);
  *contents = buffer.str();
  return Status();
}

}  // namespace h2rpc
