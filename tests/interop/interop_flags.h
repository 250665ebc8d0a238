// Command-line flags of the h2rpc interop programs: "--flag=value" and "--flag value", the
// spellings gRPC's interop runners use. Booleans may also appear bare ("--use_tls").
#pragma once

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace h2rpc_interop {

class Flags {
 public:
  /// `with_value`: flags that take a value; `booleans`: true/false flags.
  Flags(std::set<std::string> with_value, std::set<std::string> booleans)
      : with_value_(std::move(with_value)), booleans_(std::move(booleans)) {}

  /// False (with error()) on an unknown flag, a stray argument or a missing value.
  bool Parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg.rfind("--", 0) != 0) return Error("unexpected argument '" + arg + "'");
      arg.erase(0, 2);
      std::string name = arg;
      std::optional<std::string> value;
      if (auto eq = arg.find('='); eq != std::string::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
      }
      const bool boolean = booleans_.count(name) != 0;
      if (!boolean && with_value_.count(name) == 0) return Error("unknown flag --" + name);
      if (!value) {
        if (boolean) {
          value = "true";
          if (i + 1 < argc && ParseBool(argv[i + 1])) value = argv[++i];
        } else if (i + 1 < argc) {
          value = argv[++i];
        } else {
          return Error("flag --" + name + " needs a value");
        }
      }
      if (boolean && !ParseBool(*value)) {
        return Error("invalid value '" + *value + "' for --" + name + " (true or false)");
      }
      values_[name] = *value;
    }
    return true;
  }

  const std::string& error() const { return error_; }
  bool Has(const std::string& name) const { return values_.count(name) != 0; }

  std::string Str(const std::string& name, const std::string& fallback = "") const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
  }

  /// The flag as a port number; nullopt if it is absent or not an integer in [0, 65535].
  std::optional<int> Port(const std::string& name) const {
    const std::optional<int> v = Int(name);
    if (!v || *v < 0 || *v > 65535) return std::nullopt;
    return v;
  }

  /// The flag as an int; nullopt if it is absent or not an integer that fits.
  std::optional<int> Int(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end() || it->second.empty()) return std::nullopt;
    errno = 0;
    char* end = nullptr;
    const long v = std::strtol(it->second.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' || v < INT_MIN || v > INT_MAX) return std::nullopt;
    return static_cast<int>(v);
  }

  bool Bool(const std::string& name, bool fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : *ParseBool(it->second);
  }

 private:
  static std::optional<bool> ParseBool(const std::string& v) {
    if (v == "true" || v == "1" || v == "yes") return true;
    if (v == "false" || v == "0" || v == "no") return false;
    return std::nullopt;
  }
  bool Error(std::string why) {
    error_ = std::move(why);
    return false;
  }

  std::set<std::string> with_value_, booleans_;
  std::map<std::string, std::string> values_;
  std::string error_;
};

/// Metadata keys of gRPC's "Echo Metadata" server feature.
/// gRPC's unix socket forms ("unix:/path", "unix:///abs", "unix-abstract:name"): a whole
/// address on its own, used without a port.
inline bool IsUnixAddress(const std::string& address) {
  return address.rfind("unix:", 0) == 0 || address.rfind("unix-abstract:", 0) == 0;
}

inline constexpr char kEchoInitialKey[] = "x-grpc-test-echo-initial";
inline constexpr char kEchoTrailingBinKey[] = "x-grpc-test-echo-trailing-bin";

}  // namespace h2rpc_interop
