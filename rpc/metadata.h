// Metadata as users see it: lower-case keys, decoded values (binary for -bin keys).
#pragma once

#include <map>
#include <string>

namespace h2rpc {

/// Ordered multimap like grpc++'s: a key may repeat; order among equal keys is arrival order.
using Metadata = std::multimap<std::string, std::string>;

}  // namespace h2rpc
