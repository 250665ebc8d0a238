// The cgroup CPU quota: found from /proc/self/cgroup and mountinfo texts of the layouts Linux
// systems and containers use, parsed in both cgroup versions, and the smallest limit along the
// path wins. The files are real ones in a temporary tree.
#include <doctest/doctest.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "transport/cpu_quota.h"

namespace h2rpc::transport {
namespace {

// A pure cgroup v2 system (Debian 12's default), the process in a systemd service.
constexpr char kV2Cgroup[] = "0::/system.slice/app.service\n";
constexpr char kV2Mountinfo[] =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

// A hybrid system: v1 controllers, the cpu one shared with cpuacct; v2 mounted with none.
constexpr char kHybridCgroup[] =
    "5:memory:/user.slice\n"
    "4:cpu,cpuacct:/user.slice/job\n"
    "0::/user.slice/job\n";
constexpr char kHybridMountinfo[] =
    "25 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
    "31 25 0:27 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw\n"
    "34 25 0:30 / /sys/fs/cgroup/cpu,cpuacct rw shared:13 - cgroup cgroup rw,cpu,cpuacct\n"
    "35 25 0:31 / /sys/fs/cgroup/memory rw shared:14 - cgroup cgroup rw,memory\n";

TEST_CASE("cgroup v2: the process's directory and each parent up to the mount point") {
  const CpuCgroup cgroup = FindCpuCgroup(kV2Cgroup, kV2Mountinfo);
  CHECK(cgroup.v2);
  CHECK(cgroup.dirs == std::vector<std::string>{"/sys/fs/cgroup/system.slice/app.service",
                                                "/sys/fs/cgroup/system.slice", "/sys/fs/cgroup"});
}

TEST_CASE("a hybrid system uses the v1 hierarchy that has the cpu controller") {
  const CpuCgroup cgroup = FindCpuCgroup(kHybridCgroup, kHybridMountinfo);
  CHECK_FALSE(cgroup.v2);
  CHECK(cgroup.dirs == std::vector<std::string>{"/sys/fs/cgroup/cpu,cpuacct/user.slice/job",
                                                "/sys/fs/cgroup/cpu,cpuacct/user.slice",
                                                "/sys/fs/cgroup/cpu,cpuacct"});
}

TEST_CASE("in a container the cgroup namespace makes the path / : the mount point itself") {
  const CpuCgroup cgroup = FindCpuCgroup(
      "0::/\n", "600 500 0:40 / /sys/fs/cgroup ro,nosuid - cgroup2 cgroup rw,nsdelegate\n");
  CHECK(cgroup.v2);
  CHECK(cgroup.dirs == std::vector<std::string>{"/sys/fs/cgroup"});
}

TEST_CASE("a mount of part of the hierarchy: the path is taken relative to the mount's root") {
  // Docker without a cgroup namespace, v1: the container's directory is bind-mounted.
  const CpuCgroup cgroup = FindCpuCgroup(
      "3:cpu,cpuacct:/docker/abc\n",
      "700 600 0:30 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro - cgroup cgroup rw,cpuacct,cpu\n");
  CHECK(cgroup.dirs == std::vector<std::string>{"/sys/fs/cgroup/cpu,cpuacct"});
  // A path outside the mounted part: only the mount point's own files are readable.
  const CpuCgroup outside = FindCpuCgroup(
      "3:cpu:/elsewhere\n", "700 600 0:30 /docker/abc /mnt/cpu rw - cgroup cgroup rw,cpu\n");
  CHECK(outside.dirs == std::vector<std::string>{"/mnt/cpu"});
  // "/docker/abcd" is not inside "/docker/abc".
  const CpuCgroup sibling = FindCpuCgroup(
      "3:cpu:/docker/abcd\n", "700 600 0:30 /docker/abc /mnt/cpu rw - cgroup cgroup rw,cpu\n");
  CHECK(sibling.dirs == std::vector<std::string>{"/mnt/cpu"});
}

TEST_CASE("mount points with escaped spaces, and no cpu hierarchy at all") {
  const CpuCgroup cgroup =
      FindCpuCgroup("0::/a\n", "30 22 0:26 / /mnt/cg\\040root rw - cgroup2 cgroup2 rw\n");
  CHECK(cgroup.dirs == std::vector<std::string>{"/mnt/cg root/a", "/mnt/cg root"});
  CHECK(FindCpuCgroup("5:memory:/x\n", kHybridMountinfo).dirs.empty());
  CHECK(FindCpuCgroup("", "").dirs.empty());
  CHECK(FindCpuCgroup("garbage\n:\n", "1 2 3\n- - -\n").dirs.empty());
}

TEST_CASE("cpu.max and the v1 quota files parse to CPUs; unlimited is no limit") {
  CHECK(ParseCpuMax("max 100000\n") == std::nullopt);
  CHECK(*ParseCpuMax("50000 100000\n") == doctest::Approx(0.5));
  CHECK(*ParseCpuMax("250000 100000") == doctest::Approx(2.5));
  CHECK(ParseCpuMax("") == std::nullopt);
  CHECK(ParseCpuMax("50000") == std::nullopt);
  CHECK(ParseCpuMax("0 100000") == std::nullopt);
  CHECK(ParseCfsQuota("-1\n", "100000\n") == std::nullopt);
  CHECK(*ParseCfsQuota("150000\n", "100000\n") == doctest::Approx(1.5));
  CHECK(ParseCfsQuota("x", "100000") == std::nullopt);
  CHECK(ParseCfsQuota("150000", "0") == std::nullopt);
}

struct TempTree {
  std::filesystem::path root;
  TempTree() {
    char name[] = "/tmp/h2rpc-cpu-quota-XXXXXX";
    REQUIRE(mkdtemp(name) != nullptr);
    root = name;
  }
  ~TempTree() { std::filesystem::remove_all(root); }
  void Write(const std::string& relative, const std::string& contents) {
    std::filesystem::create_directories((root / relative).parent_path());
    std::ofstream(root / relative) << contents;
  }
};

TEST_CASE("the smallest limit along the path applies, whichever level sets it") {
  TempTree tree;
  const std::string mount = tree.root.string() + "/cg";
  const std::string mountinfo = "30 22 0:26 / " + mount + " rw - cgroup2 cgroup2 rw\n";
  const CpuCgroup cgroup = FindCpuCgroup("0::/slice/app\n", mountinfo);
  tree.Write("cg/slice/app/cpu.max", "max 100000\n");
  CHECK(ReadCpuLimit(cgroup) == std::nullopt);  // no file above, unlimited here
  tree.Write("cg/slice/cpu.max", "150000 100000\n");
  CHECK(*ReadCpuLimit(cgroup) == doctest::Approx(1.5));  // the parent's limit binds the child
  tree.Write("cg/slice/app/cpu.max", "300000 100000\n");
  CHECK(*ReadCpuLimit(cgroup) == doctest::Approx(1.5));
  tree.Write("cg/slice/app/cpu.max", "20000 100000\n");
  CHECK(*ReadCpuLimit(cgroup) == doctest::Approx(0.2));

  const std::string v1_mountinfo =
      "34 25 0:30 / " + mount + "1 rw - cgroup cgroup rw,cpu,cpuacct\n";
  const CpuCgroup v1 = FindCpuCgroup("4:cpu,cpuacct:/job\n", v1_mountinfo);
  tree.Write("cg1/job/cpu.cfs_quota_us", "-1\n");
  tree.Write("cg1/job/cpu.cfs_period_us", "100000\n");
  CHECK(ReadCpuLimit(v1) == std::nullopt);
  tree.Write("cg1/cpu.cfs_quota_us", "50000\n");
  tree.Write("cg1/cpu.cfs_period_us", "100000\n");
  CHECK(*ReadCpuLimit(v1) == doctest::Approx(0.5));
}

TEST_CASE("this process: the quota never raises the CPU count above the affinity mask") {
  cpu_set_t cpus;
  REQUIRE(sched_getaffinity(0, sizeof cpus, &cpus) == 0);
  const int usable = UsableCpus();
  CHECK(usable >= 0);
  CHECK(usable <= CPU_COUNT(&cpus));
  if (const std::optional<double> limit = ProcessCpuLimit()) {
    CHECK(usable <= static_cast<int>(*limit));
  } else {
    CHECK(usable == CPU_COUNT(&cpus));
  }
}

}  // namespace
}  // namespace h2rpc::transport
