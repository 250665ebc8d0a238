// The CPU time this process may use, from its cgroup's quota (cgroup v2 cpu.max, or v1
// cpu.cfs_quota_us / cpu.cfs_period_us), as a number of CPUs.
//
// A container limited to half a CPU still sees every CPU of the host in sched_getaffinity: an
// I/O thread that polls before it sleeps would spend that half CPU's quota on polls and be
// throttled, which costs far more latency than the poll saves. The event loop polls only when
// the quota (and the affinity mask) leaves room for it.
//
// The parsing is split from the file reading so that tests can feed it any cgroup layout.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace h2rpc::transport {

/// The directories that hold the process's CPU limits, innermost first, up to the mount point
/// of the hierarchy (a limit anywhere on that path applies). Empty when no cgroup hierarchy
/// with the cpu controller is mounted.
struct CpuCgroup {
  bool v2 = false;  // cpu.max; otherwise v1 cpu.cfs_quota_us and cpu.cfs_period_us
  std::vector<std::string> dirs;
};

/// From the texts of /proc/self/cgroup and /proc/self/mountinfo. A v1 hierarchy with the cpu
/// controller wins over v2 (a hybrid system runs the cpu controller on v1).
CpuCgroup FindCpuCgroup(std::string_view proc_self_cgroup, std::string_view mountinfo);

/// cgroup v2 cpu.max ("max 100000" or "50000 100000"): CPUs, or nullopt when unlimited or
/// unreadable.
std::optional<double> ParseCpuMax(std::string_view contents);

/// cgroup v1: cpu.cfs_quota_us (-1 when unlimited) over cpu.cfs_period_us.
std::optional<double> ParseCfsQuota(std::string_view quota_us, std::string_view period_us);

/// The smallest limit along `cgroup.dirs` (files read from disk), or nullopt if none is set.
std::optional<double> ReadCpuLimit(const CpuCgroup& cgroup);

/// This process's CPU limit, read once and cached: nullopt when no quota applies.
std::optional<double> ProcessCpuLimit();

/// CPUs the calling thread may use at once: its affinity mask, lowered to the whole CPUs of
/// the process's quota (0 when the quota is under one CPU).
int UsableCpus();

}  // namespace h2rpc::transport
