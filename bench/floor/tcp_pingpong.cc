// h2rpc-floor-tcp: what this machine's loopback can do at best, the floor every RPC figure is
// read against. Two measurements over 127.0.0.1, TCP_NODELAY, one echo thread on the far side:
//
//   ping-pong  a `--size`-byte message written, echoed back, read: round-trip p50/p90/p99
//   bulk       one connection written as fast as possible in 256 KiB chunks: MB/s (10^6 B/s)
//
//   h2rpc-floor-tcp [--size B] [--seconds S] [--warmup S] [--chunk B]
//
// Both loops are bounded in time (warmup + seconds each) and in count (kMaxRoundTrips); a
// watchdog ends a run that hangs. Output: one JSON line on stdout.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kMaxRoundTrips = 50'000'000;  // count bound, far above what 2 cores reach

[[noreturn]] void Fatal(const char* what) {
  std::fprintf(stderr, "h2rpc-floor-tcp: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

void NoDelay(int fd) {
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) Fatal("TCP_NODELAY");
}

/// A connected loopback pair: {client end, server end}.
std::pair<int, int> LoopbackPair() {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) Fatal("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) Fatal("bind");
  if (listen(listener, 1) != 0) Fatal("listen");
  socklen_t len = sizeof addr;
  if (getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) Fatal("getsockname");
  const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (client < 0) Fatal("socket");
  if (connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) Fatal("connect");
  const int server = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (server < 0) Fatal("accept");
  close(listener);
  NoDelay(client);
  NoDelay(server);
  return {client, server};
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool ReadAll(int fd, char* p, size_t n) {
  while (n > 0) {
    const ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

struct PingPongResult {
  bench::Histogram hist;
  uint64_t round_trips = 0;
};

PingPongResult PingPong(size_t size, double warmup_s, double seconds) {
  auto [client, server] = LoopbackPair();
  std::thread echo([fd = server, size] {
    std::vector<char> buf(size);
    while (ReadAll(fd, buf.data(), size) && WriteAll(fd, buf.data(), size)) {
    }
    close(fd);
  });
  PingPongResult result;
  std::vector<char> out(size, 'x');
  std::vector<char> in(size);
  const auto start = Clock::now();
  const auto window_start =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup_s));
  const auto window_end = window_start + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(seconds));
  for (uint64_t i = 0; i < kMaxRoundTrips; ++i) {
    const auto t0 = Clock::now();
    if (t0 >= window_end) break;
    if (!WriteAll(client, out.data(), size) || !ReadAll(client, in.data(), size))
      Fatal("ping-pong");
    const auto t1 = Clock::now();
    if (t0 >= window_start) {
      result.hist.Record(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
      ++result.round_trips;
    }
  }
  shutdown(client, SHUT_WR);  // the echo thread reads EOF and ends
  echo.join();
  close(client);
  return result;
}

/// Bytes per second received on one connection while a writer thread sends as fast as it can.
double BulkMbPerS(size_t chunk, double warmup_s, double seconds) {
  auto [client, server] = LoopbackPair();
  std::atomic<bool> stop{false};
  std::thread writer([fd = client, chunk, &stop] {
    std::vector<char> buf(chunk, 'x');
    while (!stop.load(std::memory_order_relaxed) && WriteAll(fd, buf.data(), buf.size())) {
    }
    shutdown(fd, SHUT_WR);
  });
  std::vector<char> buf(1 << 20);
  const auto start = Clock::now();
  const auto window_start =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup_s));
  const auto window_end = window_start + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(seconds));
  uint64_t bytes = 0;
  Clock::time_point counted_from{};
  bool counting = false;
  for (;;) {
    const ssize_t r = read(server, buf.data(), buf.size());
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) Fatal("bulk read");
    const auto now = Clock::now();
    if (now >= window_end) break;
    if (now >= window_start) {
      if (!counting) {
        counting = true;
        counted_from = now;
      } else {
        bytes += static_cast<uint64_t>(r);
      }
    }
  }
  const auto counted_to = Clock::now();
  stop.store(true);
  // Drain until the writer's EOF so that it never blocks on a full window.
  while (read(server, buf.data(), buf.size()) > 0) {
  }
  writer.join();
  close(server);
  close(client);
  const double secs = std::chrono::duration<double>(counted_to - counted_from).count();
  return secs > 0 ? static_cast<double>(bytes) / 1e6 / secs : 0.0;
}

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "h2rpc-floor-tcp: %s\n"
               "usage: h2rpc-floor-tcp [--size B] [--seconds S] [--warmup S] [--chunk B]\n",
               why.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  bench::Flags flags({"size", "seconds", "warmup", "chunk"});
  if (!flags.Parse(argc, argv)) Usage(flags.error());
  const long long size = flags.Int("size", 64);
  const double seconds = flags.Double("seconds", 2.0);
  const double warmup = flags.Double("warmup", 0.3);
  const long long chunk = flags.Int("chunk", 256 * 1024);
  if (size < 1 || size > (1 << 24) || chunk < 1 || chunk > (1 << 26) || !(seconds > 0) ||
      seconds > 3600 || !(warmup >= 0) || warmup > 3600) {
    Usage("size in 1..16M, chunk in 1..64M, 0 < seconds <= 3600, 0 <= warmup <= 3600");
  }
  bench::StartWatchdog("h2rpc-floor-tcp",
                       std::chrono::duration<double>(2 * (warmup + seconds) + 20));

  const PingPongResult pp = PingPong(static_cast<size_t>(size), warmup, seconds);
  const double mbps = BulkMbPerS(static_cast<size_t>(chunk), warmup, seconds);
  std::printf(
      "{\"impl\":\"tcp\",\"event\":\"floor\",\"size\":%lld,\"seconds\":%.3f,\"round_trips\":%llu,"
      "\"rtt_per_s\":%.1f,\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,\"mean_us\":%.2f,"
      "\"bulk_chunk\":%lld,\"bulk_mb_per_s\":%.1f}\n",
      size, seconds, static_cast<unsigned long long>(pp.round_trips),
      static_cast<double>(pp.round_trips) / seconds, pp.hist.PercentileUs(0.50),
      pp.hist.PercentileUs(0.90), pp.hist.PercentileUs(0.99), pp.hist.MeanUs(), chunk, mbps);
  std::fflush(stdout);
  return pp.round_trips > 0 && mbps > 0 ? 0 : 1;
}
