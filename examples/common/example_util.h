// Small helpers shared by the example programs: command-line flags, waiting for SIGINT/SIGTERM,
// and printing where a server listens. Header-only; not part of the h2rpc API.
#pragma once

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>

#include <pthread.h>

namespace examples {

/// "--name value" / "--name=value" flags with defaults. Unknown flags, missing values and
/// --help print the usage and exit (2, or 0 for --help).
class Flags {
 public:
  struct Flag {
    const char* name;
    const char* default_value;
    const char* help;
  };

  Flags(int argc, char** argv, std::initializer_list<Flag> flags) : program_(argv[0]) {
    for (const Flag& f : flags) {
      values_[f.name] = f.default_value;
      usage_ += std::string("  --") + f.name + " (default: \"" + f.default_value + "\")  " +
                f.help + "\n";
    }
    for (int i = 1; i < argc; ++i) {
      std::string_view arg = argv[i];
      if (arg == "--help" || arg == "-h") Usage(0);
      if (arg.substr(0, 2) != "--") Usage(2, "unexpected argument " + std::string(arg));
      arg.remove_prefix(2);
      std::string name;
      std::string value;
      if (size_t eq = arg.find('='); eq != std::string_view::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
      } else {
        name = arg;
        if (i + 1 >= argc) Usage(2, "--" + name + " needs a value");
        value = argv[++i];
      }
      auto it = values_.find(name);
      if (it == values_.end()) Usage(2, "unknown flag --" + name);
      it->second = value;
    }
  }

  const std::string& Get(const std::string& name) const { return values_.at(name); }

  /// The flag as an integer in [min, max]; anything else is a usage error.
  long GetInt(const std::string& name, long min, long max) const {
    const std::string& text = Get(name);
    char* end = nullptr;
    long v = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || v < min || v > max) {
      Usage(2, "--" + name + " must be an integer in [" + std::to_string(min) + ", " +
                   std::to_string(max) + "], got \"" + text + "\"");
    }
    return v;
  }

 private:
  [[noreturn]] void Usage(int code, const std::string& error = {}) const {
    FILE* out = code == 0 ? stdout : stderr;
    if (!error.empty()) std::fprintf(out, "%s: %s\n", program_.c_str(), error.c_str());
    std::fprintf(out, "usage: %s [flags]\n%s", program_.c_str(), usage_.c_str());
    std::exit(code);
  }

  std::string program_;
  std::map<std::string, std::string> values_;
  std::string usage_;
};

/// Blocks SIGINT and SIGTERM in the calling thread. Call it first thing in main(), before any
/// thread starts (the library's I/O and handler threads inherit the mask), so that the signals
/// are only ever taken by WaitForShutdownSignal() and no async signal handler is needed.
inline void BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

/// Waits until SIGINT or SIGTERM arrives; returns its number.
inline int WaitForShutdownSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

/// gRPC's unix socket forms: "unix:/path", "unix:rel/path", "unix:///abs", "unix-abstract:name".
inline bool IsUnixAddress(std::string_view address) {
  return address.substr(0, 5) == "unix:" || address.substr(0, 14) == "unix-abstract:";
}

/// `address` with its port replaced by `port` (what the server bound when asked for port 0):
/// "127.0.0.1:0" -> "127.0.0.1:41234", "[::1]:0" -> "[::1]:41234". A unix address has no port
/// and stays as it is.
inline std::string WithPort(const std::string& address, int port) {
  if (IsUnixAddress(address)) return address;
  size_t colon = address.rfind(':');
  std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  return host + ":" + std::to_string(port);
}

}  // namespace examples
