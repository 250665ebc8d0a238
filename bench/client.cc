// h2rpc-bench-client: load client for bench.Bench on h2rpc's generated stubs, implementing
// shared/bench/CONTRACT.md.
//
//   h2rpc-bench-client --target HOST:PORT [--mode unary|stream_out|stream_in|echo]
//       [--threads T] [--channels C] [--size B] [--seconds S] [--warmup S] [--concurrency K]
//
// Thread i uses channel i % C; every h2rpc Channel is its own HTTP/2 connection, so by default
// all threads share ONE connection. h2rpc's API is blocking, so --concurrency K > 1 runs K
// caller threads per worker thread, each doing blocking calls on the worker's channel (for
// the streaming modes: K streams per worker, one per caller thread): T*K calls in flight.
//
// Ops (what msgs_per_s counts and the latency histogram records):
//   unary       one call                         latency: call duration ("call")
//   stream_out  one message received             latency: gap since previous ("gap")
//   stream_in   one message written              latency: time Write() took ("write")
//   echo        one write + its echoed read      latency: round trip ("rtt")
// Only ops completing inside [warmup, warmup+seconds) count for rates and percentiles;
// ops_total includes the warm-up. A "call" is an RPC that ended as expected (stream_out:
// CANCELLED after our cancel; the others: OK); calls_per_s counts those ending inside the
// window, so it is 0 for the streaming modes, whose streams end after it (calls_total = T*K).
// cpu_* are getrusage(RUSAGE_SELF) deltas over the window. Exactly one JSON line goes to
// stdout, diagnostics to stderr. Exit 0 only when no call failed and something was measured;
// a watchdog ends a hung run with status 3.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench.h2rpc.h"
#include "bench/bench_util.h"
#include "h2rpc.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  std::string target;
  std::string mode = "unary";
  int threads = 1;
  int channels = 1;
  int size = 64;
  double seconds = 3.0;
  double warmup = 0.5;
  int concurrency = 1;
};

struct Timeline {
  Clock::time_point start, window_start, window_end;
};

uint64_t Ns(Clock::duration d) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

/// Results of one caller thread; merged by main after join.
struct Stats {
  bench::Histogram lat;
  uint64_t ops_window = 0, ops_total = 0;
  uint64_t calls_window = 0, calls_total = 0;
  uint64_t bytes_window = 0;
  uint64_t errors = 0;
};

std::atomic<int> g_errors_printed{0};

/// One caller thread: runs one mode's loop with blocking calls on one channel.
class Caller {
 public:
  Caller(const Config& cfg, const Timeline& tl, std::shared_ptr<h2rpc::Channel> channel)
      : cfg_(cfg), tl_(tl), stub_(bench::Bench::NewStub(std::move(channel))) {
    payload_.set_body(std::string(static_cast<size_t>(cfg.size), 'x'));
  }

  void Run() {
    if (cfg_.mode == "unary") {
      Unary();
    } else if (cfg_.mode == "stream_out") {
      StreamOut();
    } else if (cfg_.mode == "stream_in") {
      StreamIn();
    } else {
      Echo();
    }
  }

  /// Called by main at the end of the window: cancels a stream_out stream even while this
  /// caller is blocked in Read() ("cancelled at the end").
  void CancelStreams() {
    std::lock_guard<std::mutex> lock(cancel_mu_);
    cancel_all_ = true;
    if (cancel_ctx_ != nullptr) cancel_ctx_->TryCancel();
  }

  Stats& stats() { return stats_; }

 private:
  void RecordOp(Clock::time_point done, uint64_t lat_ns, size_t bytes) {
    ++stats_.ops_total;
    if (done >= tl_.window_start && done < tl_.window_end) {
      ++stats_.ops_window;
      stats_.lat.Record(lat_ns);
      stats_.bytes_window += bytes;
    }
  }
  void RecordCall(Clock::time_point done) {
    ++stats_.calls_total;
    if (done >= tl_.window_start && done < tl_.window_end) ++stats_.calls_window;
  }
  void RecordError(const std::string& what) {
    ++stats_.errors;
    if (g_errors_printed.fetch_add(1) < 10) {
      std::fprintf(stderr, "h2rpc-bench-client: %s error: %s\n", cfg_.mode.c_str(), what.c_str());
    }
  }
  static std::string Describe(const h2rpc::Status& s) {
    return "status " + std::to_string(s.error_code()) + " '" + s.error_message() + "'";
  }
  bool InWindowOrBefore() const { return Clock::now() < tl_.window_end; }

  void Unary() {
    bench::Payload response;
    while (InWindowOrBefore()) {
      h2rpc::ClientContext ctx;
      const auto t0 = Clock::now();
      const h2rpc::Status st = stub_->Unary(&ctx, payload_, &response);
      const auto t1 = Clock::now();
      if (!st.ok()) return RecordError(Describe(st));
      if (response.body().size() != payload_.body().size()) {
        return RecordError("response body of " + std::to_string(response.body().size()) + " bytes");
      }
      RecordOp(t1, Ns(t1 - t0), response.body().size());
      RecordCall(t1);
    }
  }

  void StreamOut() {
    h2rpc::ClientContext ctx;
    bench::StreamRequest request;
    request.set_count(0);
    request.set_size(cfg_.size);
    {
      std::lock_guard<std::mutex> lock(cancel_mu_);
      cancel_ctx_ = &ctx;
      if (cancel_all_) ctx.TryCancel();
    }
    auto reader = stub_->StreamOut(&ctx, request);
    bench::Payload msg;
    auto prev = Clock::now();
    bool bad_size = false;
    while (reader->Read(&msg)) {
      const auto t = Clock::now();
      if (msg.body().size() != static_cast<size_t>(cfg_.size)) bad_size = true;
      RecordOp(t, Ns(t - prev), msg.body().size());
      prev = t;
      if (t >= tl_.window_end) ctx.TryCancel();
    }
    const bool ended_early = Clock::now() < tl_.window_end;
    const h2rpc::Status st = reader->Finish();
    {
      std::lock_guard<std::mutex> lock(cancel_mu_);
      cancel_ctx_ = nullptr;
    }
    if (bad_size) return RecordError("message of unexpected size");
    if (ended_early || st.code() != h2rpc::StatusCode::kCancelled) {
      return RecordError("stream ended before the cancel: " + Describe(st));
    }
    RecordCall(Clock::now());
  }

  void StreamIn() {
    h2rpc::ClientContext ctx;
    bench::Summary summary;
    auto writer = stub_->StreamIn(&ctx, &summary);
    int64_t written = 0;
    bool write_failed = false;
    while (InWindowOrBefore()) {
      const auto t0 = Clock::now();
      if (!writer->Write(payload_)) {
        write_failed = true;
        break;
      }
      const auto t1 = Clock::now();
      ++written;
      RecordOp(t1, Ns(t1 - t0), payload_.body().size());
    }
    if (!write_failed) writer->WritesDone();
    const h2rpc::Status st = writer->Finish();
    if (!st.ok()) return RecordError(Describe(st));
    if (write_failed) return RecordError("Write() failed on an OK stream");
    const int64_t want_bytes = written * cfg_.size;
    if (summary.count() != written || summary.bytes() != want_bytes) {
      return RecordError("Summary{count=" + std::to_string(summary.count()) +
                         ",bytes=" + std::to_string(summary.bytes()) + "} but wrote " +
                         std::to_string(written) + " msgs / " + std::to_string(want_bytes) +
                         " bytes");
    }
    RecordCall(Clock::now());
  }

  void Echo() {
    h2rpc::ClientContext ctx;
    auto stream = stub_->Echo(&ctx);
    bench::Payload reply;
    bool failed = false;
    while (InWindowOrBefore()) {
      const auto t0 = Clock::now();
      if (!stream->Write(payload_) || !stream->Read(&reply)) {
        failed = true;
        break;
      }
      const auto t1 = Clock::now();
      if (reply.body() != payload_.body()) {
        RecordError("echo differs from what was written");
        ctx.TryCancel();
        failed = true;
        break;
      }
      RecordOp(t1, Ns(t1 - t0), reply.body().size());
    }
    if (!failed) {
      stream->WritesDone();
      while (stream->Read(&reply)) failed = true;  // more echoes than writes
    }
    const h2rpc::Status st = stream->Finish();
    if (!st.ok()) return RecordError(Describe(st));
    if (failed) return RecordError("stream broke or sent extra messages on an OK status");
    RecordCall(Clock::now());
  }

  const Config& cfg_;
  const Timeline& tl_;
  std::unique_ptr<bench::Bench::Stub> stub_;
  bench::Payload payload_;
  Stats stats_;
  std::mutex cancel_mu_;
  h2rpc::ClientContext* cancel_ctx_ = nullptr;
  bool cancel_all_ = false;
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(
      stderr,
      "h2rpc-bench-client: %s\n"
      "usage: h2rpc-bench-client --target HOST:PORT [--mode unary|stream_out|stream_in|echo]\n"
      "       [--threads T] [--channels C] [--size BYTES] [--seconds S] [--warmup S]\n"
      "       [--concurrency K]\n",
      why.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  bench::Flags flags(
      {"target", "mode", "threads", "channels", "size", "seconds", "warmup", "concurrency"});
  if (!flags.Parse(argc, argv)) Usage(flags.error());
  Config cfg;
  cfg.target = flags.Str("target", "");
  cfg.mode = flags.Str("mode", cfg.mode);
  cfg.threads = static_cast<int>(flags.Int("threads", cfg.threads));
  cfg.channels = static_cast<int>(flags.Int("channels", cfg.channels));
  cfg.size = static_cast<int>(flags.Int("size", cfg.size));
  cfg.seconds = flags.Double("seconds", cfg.seconds);
  cfg.warmup = flags.Double("warmup", cfg.warmup);
  cfg.concurrency = static_cast<int>(flags.Int("concurrency", cfg.concurrency));
  if (cfg.target.empty()) Usage("--target is required");
  if (cfg.mode != "unary" && cfg.mode != "stream_out" && cfg.mode != "stream_in" &&
      cfg.mode != "echo") {
    Usage("unknown --mode " + cfg.mode);
  }
  if (cfg.threads < 1 || cfg.threads > 4096 || cfg.channels < 1 || cfg.channels > 4096 ||
      cfg.concurrency < 1 || cfg.concurrency > 4096 ||
      static_cast<long long>(cfg.threads) * cfg.concurrency > 16384 || cfg.size < 0 ||
      cfg.size > (64 << 20) || !(cfg.seconds > 0) || cfg.seconds > 3600 || !(cfg.warmup >= 0) ||
      cfg.warmup > 3600) {
    Usage(
        "threads, channels, concurrency in 1..4096 (threads*concurrency <= 16384); size in "
        "0..64 MiB; 0 < seconds <= 3600; 0 <= warmup <= 3600");
  }

  // The whole run (connect + warm-up + window + drain) must end well within this.
  bench::StartWatchdog("h2rpc-bench-client",
                       std::chrono::duration<double>(cfg.warmup + cfg.seconds + 20.0));

  h2rpc::ChannelOptions options;
  options.max_receive_message_size = INT_MAX;
  options.max_send_message_size = INT_MAX;
  std::vector<std::shared_ptr<h2rpc::Channel>> channels;
  for (int c = 0; c < cfg.channels; ++c) {
    channels.push_back(h2rpc::CreateChannel(cfg.target, options));
  }

  Timeline tl;
  tl.start = Clock::now();
  tl.window_start = tl.start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(cfg.warmup));
  tl.window_end = tl.window_start + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(cfg.seconds));

  // Caller (i, k) is the k-th of worker thread i's callers and uses channel i % C.
  std::vector<std::unique_ptr<Caller>> callers;
  for (int i = 0; i < cfg.threads; ++i) {
    for (int k = 0; k < cfg.concurrency; ++k) {
      callers.push_back(std::make_unique<Caller>(cfg, tl, channels[i % cfg.channels]));
    }
  }
  std::vector<std::thread> threads;
  threads.reserve(callers.size());
  for (auto& c : callers) threads.emplace_back([&c] { c->Run(); });

  std::this_thread::sleep_until(tl.window_start);
  const bench::Rusage ru0 = bench::Rusage::Now();
  std::this_thread::sleep_until(tl.window_end);
  const bench::Rusage ru1 = bench::Rusage::Now();
  for (auto& c : callers) c->CancelStreams();
  for (auto& t : threads) t.join();
  const bench::Rusage ru_end = bench::Rusage::Now();

  Stats all;
  for (auto& c : callers) {
    const Stats& s = c->stats();
    all.lat.Merge(s.lat);
    all.ops_window += s.ops_window;
    all.ops_total += s.ops_total;
    all.calls_window += s.calls_window;
    all.calls_total += s.calls_total;
    all.bytes_window += s.bytes_window;
    all.errors += s.errors;
  }

  const char* lat_kind = cfg.mode == "unary"        ? "call"
                         : cfg.mode == "stream_out" ? "gap"
                         : cfg.mode == "stream_in"  ? "write"
                                                    : "rtt";
  const double secs = cfg.seconds;
  const double cpu_user = ru1.user_s - ru0.user_s;
  const double cpu_sys = ru1.sys_s - ru0.sys_s;
  const double cpu = cpu_user + cpu_sys;
  const double ops = static_cast<double>(all.ops_window);
  std::printf(
      "{\"impl\":\"h2rpc\",\"mode\":\"%s\",\"threads\":%d,\"channels\":%d,\"concurrency\":%d,"
      "\"size\":%d,\"seconds\":%.3f,\"ops\":%llu,\"calls_per_s\":%.1f,\"msgs_per_s\":%.1f,"
      "\"mb_per_s\":%.3f,\"lat_kind\":\"%s\",\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,"
      "\"mean_us\":%.2f,\"cpu_s\":%.3f,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,"
      "\"cpu_us_per_op\":%.3f,\"maxrss_kb\":%ld,\"ops_total\":%llu,\"calls_total\":%llu,"
      "\"errors\":%llu}\n",
      cfg.mode.c_str(), cfg.threads, cfg.channels, cfg.concurrency, cfg.size, secs,
      static_cast<unsigned long long>(all.ops_window), static_cast<double>(all.calls_window) / secs,
      ops / secs, static_cast<double>(all.bytes_window) / 1e6 / secs, lat_kind,
      all.lat.PercentileUs(0.50), all.lat.PercentileUs(0.90), all.lat.PercentileUs(0.99),
      all.lat.MeanUs(), cpu, cpu_user, cpu_sys, ops > 0 ? cpu * 1e6 / ops : 0.0, ru_end.maxrss_kb,
      static_cast<unsigned long long>(all.ops_total),
      static_cast<unsigned long long>(all.calls_total),
      static_cast<unsigned long long>(all.errors));
  std::fflush(stdout);
  if (all.errors != 0) return 1;
  if (all.ops_window == 0) {
    std::fprintf(stderr, "h2rpc-bench-client: nothing was measured\n");
    return 1;
  }
  return 0;
}
