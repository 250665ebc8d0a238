#include "transport/cpu_quota.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iterator>
#include <sstream>

namespace h2rpc::transport {

namespace {

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

bool HasToken(std::string_view list, std::string_view token) {
  for (std::string_view item : Split(list, ',')) {
    if (item == token) return true;
  }
  return false;
}

/// mountinfo escapes space, tab, newline and backslash in paths as \ooo (octal).
std::string Unescape(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 4 <= field.size()) {
      int value = 0;
      const auto [end, ec] = std::from_chars(field.data() + i + 1, field.data() + i + 4, value, 8);
      if (ec == std::errc() && end == field.data() + i + 4) {
        out.push_back(static_cast<char>(value));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

std::optional<int64_t> ParseInt(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

struct Mount {
  std::string root;         // the hierarchy's directory mounted here
  std::string mount_point;  // where
};

/// The cgroup's directory under the mount and each parent up to the mount point.
std::vector<std::string> DirsUpToMount(const Mount& mount, std::string_view cgroup_path) {
  std::string_view relative;
  const std::string_view root = mount.root;
  if (root == "/") {
    relative = cgroup_path;
  } else if (cgroup_path.substr(0, root.size()) == root &&
             (cgroup_path.size() == root.size() || cgroup_path[root.size()] == '/')) {
    relative = cgroup_path.substr(root.size());
  }  // else: outside the mounted part (another namespace); the mount point's own limit only
  while (!relative.empty() && relative.back() == '/') relative.remove_suffix(1);
  std::vector<std::string> dirs;
  std::string dir = mount.mount_point;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const std::string top = dir;
  dir += relative;
  while (true) {
    dirs.push_back(dir);
    if (dir.size() <= top.size()) return dirs;
    dir.erase(dir.rfind('/'));
    if (dir.size() < top.size()) return dirs;
  }
}

}  // namespace

CpuCgroup FindCpuCgroup(std::string_view proc_self_cgroup, std::string_view mountinfo) {
  std::optional<std::string_view> v1_path, v2_path;
  for (std::string_view line : Split(proc_self_cgroup, '\n')) {
    // hierarchy-ID:controller-list:cgroup-path (the path may itself hold ':')
    const size_t first = line.find(':');
    const size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    const std::string_view id = line.substr(0, first);
    const std::string_view controllers = line.substr(first + 1, second - first - 1);
    const std::string_view path = line.substr(second + 1);
    if (id == "0" && controllers.empty()) {
      v2_path = path;
    } else if (HasToken(controllers, "cpu")) {
      v1_path = path;
    }
  }
  std::optional<Mount> v1_mount, v2_mount;
  for (std::string_view line : Split(mountinfo, '\n')) {
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    const std::vector<std::string_view> fields = Split(line, ' ');
    const auto dash = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 5 || dash == fields.end() || std::distance(dash, fields.end()) < 4)
      continue;
    const std::string_view fstype = dash[1];
    const std::string_view super_options = dash[3];
    Mount mount{Unescape(fields[3]), Unescape(fields[4])};
    if (fstype == "cgroup" && HasToken(super_options, "cpu") && !v1_mount) {
      v1_mount = std::move(mount);
    } else if (fstype == "cgroup2" && !v2_mount) {
      v2_mount = std::move(mount);
    }
  }
  CpuCgroup cgroup;
  if (v1_path && v1_mount) {
    cgroup.dirs = DirsUpToMount(*v1_mount, *v1_path);
  } else if (v2_path && v2_mount) {
    cgroup.v2 = true;
    cgroup.dirs = DirsUpToMount(*v2_mount, *v2_path);
  }
  return cgroup;
}

std::optional<double> ParseCpuMax(std::string_view contents) {
  const size_t space = contents.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::optional<int64_t> quota = ParseInt(contents.substr(0, space));  // "max": nullopt
  const std::optional<int64_t> period = ParseInt(contents.substr(space + 1));
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;
  return static_cast<double>(*quota) / static_cast<double>(*period);
}

std::optional<double> ParseCfsQuota(std::string_view quota_us, std::string_view period_us) {
  const std::optional<int64_t> quota = ParseInt(quota_us);
  const std::optional<int64_t> period = ParseInt(period_us);
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;  // -1: unlimited
  return static_cast<double>(*quota) / static_cast<double>(*period);
}

std::optional<double> ReadCpuLimit(const CpuCgroup& cgroup) {
  std::optional<double> lowest;
  for (const std::string& dir : cgroup.dirs) {
    std::optional<double> limit;
    if (cgroup.v2) {
      if (std::optional<std::string> max = ReadFile(dir + "/cpu.max")) limit = ParseCpuMax(*max);
    } else {
      const std::optional<std::string> quota = ReadFile(dir + "/cpu.cfs_quota_us");
      const std::optional<std::string> period = ReadFile(dir + "/cpu.cfs_period_us");
      if (quota && period) limit = ParseCfsQuota(*quota, *period);
    }
    if (limit && (!lowest || *limit < *lowest)) lowest = limit;
  }
  return lowest;
}

std::optional<double> ProcessCpuLimit() {
  static const std::optional<double> limit = [] {
    const std::optional<std::string> cgroup = ReadFile("/proc/self/cgroup");
    const std::optional<std::string> mountinfo = ReadFile("/proc/self/mountinfo");
    if (!cgroup || !mountinfo) return std::optional<double>();
    return ReadCpuLimit(FindCpuCgroup(*cgroup, *mountinfo));
  }();
  return limit;
}

int UsableCpus() {
  cpu_set_t cpus;
  int count = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 2;
  if (const std::optional<double> limit = ProcessCpuLimit()) {
    count = std::min(count, static_cast<int>(std::floor(*limit)));
  }
  return count;
}

}  // namespace h2rpc::transport
