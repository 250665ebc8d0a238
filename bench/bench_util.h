// Helpers shared by the h2rpc benchmark programs (bench/): flag parsing ("--flag value" and
// "--flag=value"), getrusage figures, a fixed-size latency histogram, a watchdog.
// Dependency-free on purpose: the floor program links nothing but libc.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <thread>

namespace bench {

/// Parses "--name value" / "--name=value" against a fixed set of known names.
class Flags {
 public:
  explicit Flags(std::set<std::string> known) : known_(std::move(known)) {}

  /// False (with error()) on an unknown flag, a stray argument or a missing value.
  bool Parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "-h" || arg == "--help") return Fail("help requested");
      if (arg.rfind("--", 0) != 0) return Fail("unexpected argument '" + arg + "'");
      arg = arg.substr(2);
      std::string name = arg;
      std::string value;
      if (auto eq = arg.find('='); eq != std::string::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return Fail("flag --" + name + " needs a value");
      }
      if (known_.count(name) == 0) return Fail("unknown flag --" + name);
      values_[name] = value;
    }
    return true;
  }

  const std::string& error() const { return error_; }
  bool Has(const std::string& name) const { return values_.count(name) != 0; }
  std::string Str(const std::string& name, const std::string& def) const {
    auto it = values_.find(name);
    return it == values_.end() ? def : it->second;
  }
  long long Int(const std::string& name, long long def) const {
    auto it = values_.find(name);
    if (it == values_.end()) return def;
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(it->second.c_str(), &end, 10);
    if (errno != 0 || end == it->second.c_str() || *end != '\0') Die(name, it->second);
    return v;
  }
  double Double(const std::string& name, double def) const {
    auto it = values_.find(name);
    if (it == values_.end()) return def;
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(it->second.c_str(), &end);
    if (errno != 0 || end == it->second.c_str() || *end != '\0') Die(name, it->second);
    return v;
  }

 private:
  bool Fail(std::string why) {
    error_ = std::move(why);
    return false;
  }
  [[noreturn]] static void Die(const std::string& name, const std::string& value) {
    std::fprintf(stderr, "invalid value '%s' for --%s\n", value.c_str(), name.c_str());
    std::exit(2);
  }

  std::set<std::string> known_;
  std::map<std::string, std::string> values_;
  std::string error_;
};

/// This process's CPU time and peak RSS (getrusage(RUSAGE_SELF)).
struct Rusage {
  double user_s = 0;
  double sys_s = 0;
  long maxrss_kb = 0;

  static Rusage Now() {
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    Rusage r;
    r.user_s =
        static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) / 1e6;
    r.sys_s =
        static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6;
    r.maxrss_kb = ru.ru_maxrss;
    return r;
  }
};

/// Latency histogram over nanoseconds with a fixed footprint (~36 KiB) and < 0.4 % error:
/// values below 128 ns are exact, above that each power of two is split in 128 buckets.
/// Recording is a few instructions and never allocates, so it does not disturb the hot loop
/// the way a growing vector of samples would. Percentiles are nearest-rank (ceil(q * n)).
class Histogram {
 public:
  void Record(uint64_t ns) {
    ++buckets_[Index(ns)];
    ++count_;
    sum_ns_ += static_cast<double>(ns);
  }
  void Merge(const Histogram& other) {
    for (size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
    count_ += other.count_;
    sum_ns_ += other.sum_ns_;
  }
  uint64_t count() const { return count_; }
  double MeanUs() const { return count_ == 0 ? 0.0 : sum_ns_ / static_cast<double>(count_) / 1e3; }
  double PercentileUs(double q) const {
    if (count_ == 0) return 0.0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(count_) + 0.999999999);
    rank = std::clamp<uint64_t>(rank, 1, count_);
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += buckets_[i];
      if (seen >= rank) return Midpoint(i) / 1e3;
    }
    return Midpoint(kBuckets - 1) / 1e3;
  }

 private:
  static constexpr int kSubBits = 7;  // 128 buckets per power of two
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;
  static constexpr int kMaxExp = 44;  // 2^44 ns ≈ 4.9 h: clamp above
  static constexpr size_t kBuckets = kSub + (kMaxExp - kSubBits + 1) * kSub;

  static size_t Index(uint64_t ns) {
    if (ns < kSub) return static_cast<size_t>(ns);
    int e = std::bit_width(ns) - 1;  // ns in [2^e, 2^(e+1))
    if (e > kMaxExp) return kBuckets - 1;
    const uint64_t sub = (ns >> (e - kSubBits)) & (kSub - 1);
    return static_cast<size_t>(kSub + static_cast<uint64_t>(e - kSubBits) * kSub + sub);
  }
  static double Midpoint(size_t index) {
    if (index < kSub) return static_cast<double>(index);
    const uint64_t rel = index - kSub;
    const int e = static_cast<int>(rel / kSub) + kSubBits;
    const uint64_t sub = rel % kSub;
    const double width = static_cast<double>(uint64_t{1} << (e - kSubBits));
    return static_cast<double>((kSub + sub) << (e - kSubBits)) + width / 2;
  }

  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  double sum_ns_ = 0;
};

/// Ends the process with status 3 if it is still running after `limit`: a hung run must not
/// hang the harness that started it.
/// gRPC's unix socket forms ("unix:/path", "unix:///abs", "unix-abstract:name"): a whole
/// address, used without a port.
inline bool IsUnixAddress(const std::string& address) {
  return address.rfind("unix:", 0) == 0 || address.rfind("unix-abstract:", 0) == 0;
}

inline void StartWatchdog(const char* program, std::chrono::duration<double> limit) {
  std::thread([program, limit] {
    std::this_thread::sleep_for(limit);
    std::fprintf(stderr, "%s: watchdog: run hung for %.1f s, giving up\n", program, limit.count());
    std::fflush(stderr);
    std::_Exit(3);
  }).detach();
}

}  // namespace bench
