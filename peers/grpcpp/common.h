// Small helpers shared by the grpc++ reference peers: flag parsing (both
// "--flag=value" and "--flag value"), getrusage figures, address formatting.
// Deliberately dependency-free (no gflags / absl flags).
#pragma once

#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace peers {

class Flags {
 public:
  // `known`: flags taking a value; `booleans`: flags that may appear bare
  // ("--use_tls" == "--use_tls=true") or with an explicit true/false value.
  Flags(std::set<std::string> known, std::set<std::string> booleans = {})
      : known_(std::move(known)), booleans_(std::move(booleans)) {}

  // Returns false (with error()) on an unknown flag or a missing value.
  bool Parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "-h" || arg == "--help") {
        error_ = "help requested";
        return false;
      }
      if (arg.rfind("--", 0) != 0) {
        error_ = "unexpected argument '" + arg + "'";
        return false;
      }
      arg = arg.substr(2);
      std::string name = arg, value;
      bool has_value = false;
      if (auto eq = arg.find('='); eq != std::string::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        has_value = true;
      }
      const bool is_bool = booleans_.count(name) != 0;
      if (!is_bool && known_.count(name) == 0) {
        error_ = "unknown flag --" + name;
        return false;
      }
      if (!has_value) {
        if (is_bool) {
          value = "true";
          if (i + 1 < argc && IsBoolWord(argv[i + 1])) value = argv[++i];
        } else if (i + 1 < argc) {
          value = argv[++i];
        } else {
          error_ = "flag --" + name + " needs a value";
          return false;
        }
      }
      values_[name] = value;
    }
    return true;
  }

  const std::string& error() const { return error_; }
  bool Has(const std::string& name) const { return values_.count(name) != 0; }

  std::string Str(const std::string& name, const std::string& def = "") const {
    auto it = values_.find(name);
    return it == values_.end() ? def : it->second;
  }
  long long Int(const std::string& name, long long def) const {
    auto it = values_.find(name);
    if (it == values_.end()) return def;
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(it->second.c_str(), &end, 10);
    if (errno != 0 || end == it->second.c_str() || *end != '\0') Die(name, it->second);
    return v;
  }
  double Double(const std::string& name, double def) const {
    auto it = values_.find(name);
    if (it == values_.end()) return def;
    errno = 0;
    char* end = nullptr;
    double v = std::strtod(it->second.c_str(), &end);
    if (errno != 0 || end == it->second.c_str() || *end != '\0') Die(name, it->second);
    return v;
  }
  bool Bool(const std::string& name, bool def) const {
    auto it = values_.find(name);
    if (it == values_.end()) return def;
    const std::string& v = it->second;
    if (v == "true" || v == "1" || v == "yes") return true;
    if (v == "false" || v == "0" || v == "no") return false;
    Die(name, v);
  }

 private:
  static bool IsBoolWord(const char* s) {
    std::string v = s;
    return v == "true" || v == "false" || v == "1" || v == "0" || v == "yes" || v == "no";
  }
  [[noreturn]] static void Die(const std::string& name, const std::string& value) {
    std::fprintf(stderr, "invalid value '%s' for --%s\n", value.c_str(), name.c_str());
    std::exit(2);
  }

  std::set<std::string> known_, booleans_;
  std::map<std::string, std::string> values_;
  std::string error_;
};

struct Rusage {
  double user_s = 0, sys_s = 0;
  long maxrss_kb = 0;
  static Rusage Now() {
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    Rusage r;
    r.user_s = static_cast<double>(ru.ru_utime.tv_sec) + ru.ru_utime.tv_usec / 1e6;
    r.sys_s = static_cast<double>(ru.ru_stime.tv_sec) + ru.ru_stime.tv_usec / 1e6;
    r.maxrss_kb = ru.ru_maxrss;
    return r;
  }
};

// gRPC's unix socket forms ("unix:/path", "unix:///abs", "unix-abstract:name"), which grpc++
// takes natively: a whole address, used without a port.
inline bool IsUnixAddress(const std::string& address) {
  return address.rfind("unix:", 0) == 0 || address.rfind("unix-abstract:", 0) == 0;
}

// "host" + port -> "host:port", bracketing bare IPv6 literals. A unix address is used as is.
inline std::string JoinHostPort(const std::string& host, long long port) {
  if (IsUnixAddress(host)) return host;
  std::string h = host;
  if (h.find(':') != std::string::npos && h.front() != '[') h = "[" + h + "]";
  return h + ":" + std::to_string(port);
}

// JSON string literal (quotes included) for diagnostics embedded in JSON.
inline std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace peers
