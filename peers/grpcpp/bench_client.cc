// grpcpp-bench-client: load client for bench.Bench on grpc++, implementing
// shared/bench/CONTRACT.md.
//
//   grpcpp-bench-client --target HOST:PORT [--mode unary|stream_out|stream_in|echo]
//       [--threads T] [--channels C] [--size B] [--seconds S] [--warmup S]
//       [--concurrency K]
//
// Thread i uses channel i % C; each channel is a separate HTTP/2 connection
// (distinct channel args + a local subchannel pool). With --concurrency 1 a
// thread drives the blocking stub; with K > 1 it keeps K calls in flight on
// its own CompletionQueue (for the streaming modes: K streams per thread).
//
// Ops (what msgs_per_s counts and the latency histogram records):
//   unary       one call                         latency: call duration ("call")
//   stream_out  one message received             latency: gap since previous ("gap")
//   stream_in   one message written              latency: time Write() took ("write")
//   echo        one write + its echoed read      latency: round trip ("rtt")
// Only ops completing inside [warmup, warmup+seconds) count for the rates and
// percentiles; ops_total includes the warm-up. A "call" is an RPC that
// completed as expected (stream_out: CANCELLED after our cancel; others: OK);
// calls_per_s counts those completing inside the window, so for the streaming
// modes, whose streams end after the window, it is 0 and calls_total = T*K.
// Exactly one JSON line goes to stdout; diagnostics go to stderr.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench.grpc.pb.h"
#include "common.h"

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

double Us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// Per-thread results; merged by main after join.
struct Stats {
  std::vector<double> lat_us;
  uint64_t ops_window = 0, ops_total = 0;
  uint64_t calls_window = 0, calls_total = 0;
  uint64_t bytes_window = 0;
  uint64_t errors = 0;
};

std::atomic<int> g_errors_printed{0};

class Worker {
 public:
  Worker(const Config& cfg, const Timeline& tl, std::shared_ptr<grpc::Channel> channel)
      : cfg_(cfg), tl_(tl), stub_(bench::Bench::NewStub(channel)) {
    payload_.set_body(std::string(static_cast<size_t>(cfg.size), 'x'));
  }

  void RecordOp(Clock::time_point done, double lat_us, size_t bytes) {
    ++stats_.ops_total;
    if (done >= tl_.window_start && done < tl_.window_end) {
      ++stats_.ops_window;
      stats_.lat_us.push_back(lat_us);
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
      std::fprintf(stderr, "grpcpp-bench-client: %s error: %s\n", cfg_.mode.c_str(), what.c_str());
    }
  }
  static std::string Describe(const grpc::Status& s) {
    return "status " + std::to_string(static_cast<int>(s.error_code())) + " '" + s.error_message() +
           "'";
  }

  bool InWindowOrBefore() const { return Clock::now() < tl_.window_end; }

  // Registers a blocking stream_out context so that main can cancel it at
  // the end of the window even while the worker is blocked in Read().
  void RegisterCancel(grpc::ClientContext* ctx) {
    std::lock_guard<std::mutex> lock(cancel_mu_);
    cancel_ctx_ = ctx;
    if (cancel_all_) ctx->TryCancel();
  }
  void UnregisterCancel() {
    std::lock_guard<std::mutex> lock(cancel_mu_);
    cancel_ctx_ = nullptr;
  }
  void CancelStreams() {
    std::lock_guard<std::mutex> lock(cancel_mu_);
    cancel_all_ = true;
    if (cancel_ctx_ != nullptr) cancel_ctx_->TryCancel();
  }

  void Run() {
    if (cfg_.concurrency <= 1) {
      if (cfg_.mode == "unary")
        SyncUnary();
      else if (cfg_.mode == "stream_out")
        SyncStreamOut();
      else if (cfg_.mode == "stream_in")
        SyncStreamIn();
      else
        SyncEcho();
    } else {
      RunAsync();
    }
  }

  Stats& stats() { return stats_; }

 private:
  // ---- blocking stub (concurrency 1) ----
  void SyncUnary() {
    bench::Payload response;
    while (InWindowOrBefore()) {
      grpc::ClientContext ctx;
      const auto t0 = Clock::now();
      grpc::Status st = stub_->Unary(&ctx, payload_, &response);
      const auto t1 = Clock::now();
      if (!st.ok()) return RecordError(Describe(st));
      if (response.body().size() != payload_.body().size()) {
        return RecordError("response body of " + std::to_string(response.body().size()) + " bytes");
      }
      RecordOp(t1, Us(t1 - t0), response.body().size());
      RecordCall(t1);
    }
  }

  void SyncStreamOut() {
    grpc::ClientContext ctx;
    bench::StreamRequest request;
    request.set_count(0);
    request.set_size(cfg_.size);
    RegisterCancel(&ctx);
    auto reader = stub_->StreamOut(&ctx, request);
    bench::Payload msg;
    auto prev = Clock::now();
    bool bad_size = false;
    while (reader->Read(&msg)) {
      const auto t = Clock::now();
      if (msg.body().size() != static_cast<size_t>(cfg_.size)) bad_size = true;
      RecordOp(t, Us(t - prev), msg.body().size());
      prev = t;
      if (t >= tl_.window_end) ctx.TryCancel();
    }
    const bool ended_early = Clock::now() < tl_.window_end;
    grpc::Status st = reader->Finish();
    UnregisterCancel();
    if (bad_size) return RecordError("message of unexpected size");
    if (ended_early || st.error_code() != grpc::StatusCode::CANCELLED) {
      return RecordError("stream ended before the cancel: " + Describe(st));
    }
    RecordCall(Clock::now());
  }

  void SyncStreamIn() {
    grpc::ClientContext ctx;
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
      RecordOp(t1, Us(t1 - t0), payload_.body().size());
    }
    if (!write_failed) writer->WritesDone();
    grpc::Status st = writer->Finish();
    if (!st.ok()) return RecordError(Describe(st));
    if (write_failed) return RecordError("Write() failed on an OK stream");
    CheckSummary(summary, written);
  }

  void CheckSummary(const bench::Summary& summary, int64_t written) {
    const int64_t want_bytes = written * cfg_.size;
    if (summary.count() != written || summary.bytes() != want_bytes) {
      return RecordError("Summary{count=" + std::to_string(summary.count()) +
                         ",bytes=" + std::to_string(summary.bytes()) + "} but wrote " +
                         std::to_string(written) + " msgs / " + std::to_string(want_bytes) +
                         " bytes");
    }
    RecordCall(Clock::now());
  }

  void SyncEcho() {
    grpc::ClientContext ctx;
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
      RecordOp(t1, Us(t1 - t0), reply.body().size());
    }
    if (!failed) {
      stream->WritesDone();
      while (stream->Read(&reply)) {
        failed = true;  // more echoes than writes
      }
    }
    grpc::Status st = stream->Finish();
    if (!st.ok()) return RecordError(Describe(st));
    if (failed) return RecordError("stream broke or sent extra messages on an OK status");
    RecordCall(Clock::now());
  }

  // ---- CompletionQueue API (concurrency K > 1) ----
  class AsyncOp;
  struct Tag {
    AsyncOp* op;
    int event;
  };

  class AsyncOp {
   public:
    explicit AsyncOp(Worker* w) : w_(w) {}
    virtual ~AsyncOp() = default;
    virtual void Start() = 0;
    // Returns true when this op has completed for good (its final event).
    virtual bool OnEvent(int event, bool ok) = 0;
    virtual void OnWindowEnd() {}

   protected:
    Tag* T(int event) {
      tags_[event] = Tag{this, event};
      return &tags_[event];
    }
    Worker* w_;
    grpc::CompletionQueue* cq() { return &w_->cq_; }

   private:
    Tag tags_[8];
  };

  enum Event { kStart, kRead, kWrite, kWritesDone, kFinish };

  class UnaryOp final : public AsyncOp {
   public:
    using AsyncOp::AsyncOp;
    void Start() override {
      rpc_.reset();  // the reader lives in the previous call's arena
      ctx_ = std::make_unique<grpc::ClientContext>();
      response_.Clear();
      t0_ = Clock::now();
      rpc_ = w_->stub_->AsyncUnary(ctx_.get(), w_->payload_, cq());
      rpc_->Finish(&response_, &status_, T(kFinish));
    }
    bool OnEvent(int, bool) override {
      const auto t1 = Clock::now();
      if (!status_.ok()) {
        w_->RecordError(Describe(status_));
        return true;
      }
      if (response_.body().size() != w_->payload_.body().size()) {
        w_->RecordError("response body of " + std::to_string(response_.body().size()) + " bytes");
        return true;
      }
      w_->RecordOp(t1, Us(t1 - t0_), response_.body().size());
      w_->RecordCall(t1);
      if (!w_->InWindowOrBefore()) return true;
      Start();
      return false;
    }

   private:
    std::unique_ptr<grpc::ClientContext> ctx_;
    std::unique_ptr<grpc::ClientAsyncResponseReader<bench::Payload>> rpc_;
    bench::Payload response_;
    grpc::Status status_;
    Clock::time_point t0_;
  };

  class StreamOutOp final : public AsyncOp {
   public:
    using AsyncOp::AsyncOp;
    void Start() override {
      bench::StreamRequest request;
      request.set_count(0);
      request.set_size(w_->cfg_.size);
      rpc_ = w_->stub_->PrepareAsyncStreamOut(&ctx_, request, cq());
      rpc_->StartCall(T(kStart));
    }
    bool OnEvent(int event, bool ok) override {
      const auto t = Clock::now();
      switch (event) {
        case kStart:
          if (!ok) break;
          prev_ = t;
          rpc_->Read(&msg_, T(kRead));
          return false;
        case kRead:
          if (!ok) break;
          if (msg_.body().size() != static_cast<size_t>(w_->cfg_.size)) bad_size_ = true;
          w_->RecordOp(t, Us(t - prev_), msg_.body().size());
          prev_ = t;
          if (t >= w_->tl_.window_end) OnWindowEnd();
          rpc_->Read(&msg_, T(kRead));
          return false;
        case kFinish:
          if (bad_size_) {
            w_->RecordError("message of unexpected size");
          } else if (!cancelled_ || status_.error_code() != grpc::StatusCode::CANCELLED) {
            w_->RecordError("stream ended before the cancel: " + Describe(status_));
          } else {
            w_->RecordCall(t);
          }
          return true;
      }
      rpc_->Finish(&status_, T(kFinish));
      return false;
    }
    void OnWindowEnd() override {
      if (cancelled_) return;
      cancelled_ = true;
      ctx_.TryCancel();
    }

   private:
    grpc::ClientContext ctx_;
    std::unique_ptr<grpc::ClientAsyncReader<bench::Payload>> rpc_;
    bench::Payload msg_;
    grpc::Status status_;
    Clock::time_point prev_;
    bool cancelled_ = false, bad_size_ = false;
  };

  class StreamInOp final : public AsyncOp {
   public:
    using AsyncOp::AsyncOp;
    void Start() override {
      rpc_ = w_->stub_->PrepareAsyncStreamIn(&ctx_, &summary_, cq());
      rpc_->StartCall(T(kStart));
    }
    bool OnEvent(int event, bool ok) override {
      const auto t = Clock::now();
      switch (event) {
        case kStart:
          if (!ok) break;
          Write();
          return false;
        case kWrite:
          if (!ok) {
            write_failed_ = true;
            break;
          }
          ++written_;
          w_->RecordOp(t, Us(t - t0_), w_->payload_.body().size());
          if (w_->InWindowOrBefore()) {
            Write();
          } else {
            rpc_->WritesDone(T(kWritesDone));
          }
          return false;
        case kWritesDone:
          break;
        case kFinish:
          if (!status_.ok()) {
            w_->RecordError(Describe(status_));
          } else if (write_failed_) {
            w_->RecordError("Write() failed on an OK stream");
          } else {
            w_->CheckSummary(summary_, written_);
          }
          return true;
      }
      rpc_->Finish(&status_, T(kFinish));
      return false;
    }

   private:
    void Write() {
      t0_ = Clock::now();
      rpc_->Write(w_->payload_, T(kWrite));
    }
    grpc::ClientContext ctx_;
    std::unique_ptr<grpc::ClientAsyncWriter<bench::Payload>> rpc_;
    bench::Summary summary_;
    grpc::Status status_;
    Clock::time_point t0_;
    int64_t written_ = 0;
    bool write_failed_ = false;
  };

  class EchoOp final : public AsyncOp {
   public:
    using AsyncOp::AsyncOp;
    void Start() override {
      rpc_ = w_->stub_->PrepareAsyncEcho(&ctx_, cq());
      rpc_->StartCall(T(kStart));
    }
    bool OnEvent(int event, bool ok) override {
      const auto t = Clock::now();
      switch (event) {
        case kStart:
          if (!ok) break;
          Round();
          return false;
        case kWrite:
        case kRead:
          if (!ok) failed_ = true;
          if (event == kRead) {
            read_done_at_ = t;
            if (ok && reply_.body() != w_->payload_.body()) {
              failed_ = true;
              mismatch_ = true;
            }
          }
          if (--pending_ > 0) return false;
          if (failed_) {
            if (mismatch_) ctx_.TryCancel();
            break;
          }
          w_->RecordOp(read_done_at_, Us(read_done_at_ - t0_), reply_.body().size());
          if (w_->InWindowOrBefore()) {
            Round();
          } else {
            rpc_->WritesDone(T(kWritesDone));
          }
          return false;
        case kWritesDone:
          break;
        case kFinish:
          if (mismatch_) {
            w_->RecordError("echo differs from what was written");
          } else if (!status_.ok()) {
            w_->RecordError(Describe(status_));
          } else if (failed_) {
            w_->RecordError("stream broke on an OK status");
          } else {
            w_->RecordCall(t);
          }
          return true;
      }
      rpc_->Finish(&status_, T(kFinish));
      return false;
    }

   private:
    void Round() {
      pending_ = 2;
      t0_ = Clock::now();
      rpc_->Read(&reply_, T(kRead));
      rpc_->Write(w_->payload_, T(kWrite));
    }
    grpc::ClientContext ctx_;
    std::unique_ptr<grpc::ClientAsyncReaderWriter<bench::Payload, bench::Payload>> rpc_;
    bench::Payload reply_;
    grpc::Status status_;
    Clock::time_point t0_, read_done_at_;
    int pending_ = 0;
    bool failed_ = false, mismatch_ = false;
  };

  void RunAsync() {
    std::vector<std::unique_ptr<AsyncOp>> ops;
    for (int k = 0; k < cfg_.concurrency; ++k) {
      if (cfg_.mode == "unary")
        ops.push_back(std::make_unique<UnaryOp>(this));
      else if (cfg_.mode == "stream_out")
        ops.push_back(std::make_unique<StreamOutOp>(this));
      else if (cfg_.mode == "stream_in")
        ops.push_back(std::make_unique<StreamInOp>(this));
      else
        ops.push_back(std::make_unique<EchoOp>(this));
    }
    for (auto& op : ops) op->Start();
    size_t active = ops.size();
    bool window_over = false;
    while (active > 0) {
      void* tag = nullptr;
      bool ok = false;
      const auto deadline =
          window_over ? std::chrono::system_clock::now() + std::chrono::hours(1)
                      : std::chrono::system_clock::now() + (tl_.window_end - Clock::now());
      const auto r = cq_.AsyncNext(&tag, &ok, deadline);
      if (r == grpc::CompletionQueue::SHUTDOWN) break;
      if (r == grpc::CompletionQueue::TIMEOUT) {
        if (Clock::now() >= tl_.window_end) {
          window_over = true;
          for (auto& op : ops) op->OnWindowEnd();
        }
        continue;
      }
      auto* t = static_cast<Tag*>(tag);
      if (t->op->OnEvent(t->event, ok)) --active;
    }
    cq_.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (cq_.Next(&tag, &ok)) {
    }
  }

  const Config& cfg_;
  const Timeline& tl_;
  std::unique_ptr<bench::Bench::Stub> stub_;
  bench::Payload payload_;
  grpc::CompletionQueue cq_;
  Stats stats_;
  std::mutex cancel_mu_;
  grpc::ClientContext* cancel_ctx_ = nullptr;
  bool cancel_all_ = false;
};

double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0.0;
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  if (rank == 0) rank = 1;
  return sorted[std::min(rank, sorted.size()) - 1];
}

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(
      stderr,
      "grpcpp-bench-client: %s\n"
      "usage: grpcpp-bench-client --target HOST:PORT [--mode unary|stream_out|stream_in|echo]\n"
      "       [--threads T] [--channels C] [--size BYTES] [--seconds S] [--warmup S]\n"
      "       [--concurrency K]\n",
      why.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  peers::Flags flags(
      {"target", "mode", "threads", "channels", "size", "seconds", "warmup", "concurrency"});
  if (!flags.Parse(argc, argv)) Usage(flags.error());
  Config cfg;
  cfg.target = flags.Str("target");
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
  if (cfg.threads < 1 || cfg.channels < 1 || cfg.concurrency < 1 || cfg.size < 0 ||
      !(cfg.seconds > 0) || !(cfg.warmup >= 0)) {
    Usage("threads, channels, concurrency >= 1; size >= 0; seconds > 0; warmup >= 0");
  }

  // Watchdog: the whole run (connect + warm-up + window + drain) must end
  // well within warmup + seconds + 20 s.
  const auto watchdog_limit = std::chrono::duration<double>(cfg.warmup + cfg.seconds + 20.0);
  std::thread([watchdog_limit] {
    std::this_thread::sleep_for(watchdog_limit);
    std::fprintf(stderr, "grpcpp-bench-client: watchdog: run hung, giving up\n");
    std::fflush(stderr);
    std::_Exit(3);
  }).detach();

  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int c = 0; c < cfg.channels; ++c) {
    grpc::ChannelArguments args;
    // Distinct args plus a private subchannel pool: one TCP connection each.
    args.SetInt("grpc.channel_id", c);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxReceiveMessageSize(INT_MAX);
    args.SetMaxSendMessageSize(INT_MAX);
    auto ch = grpc::CreateCustomChannel(cfg.target, grpc::InsecureChannelCredentials(), args);
    if (!ch->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
      std::fprintf(stderr, "grpcpp-bench-client: cannot connect to %s\n", cfg.target.c_str());
      return 1;
    }
    channels.push_back(std::move(ch));
  }

  Timeline tl;
  tl.start = Clock::now();
  tl.window_start = tl.start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(cfg.warmup));
  tl.window_end = tl.window_start + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(cfg.seconds));

  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < cfg.threads; ++i) {
    workers.push_back(std::make_unique<Worker>(cfg, tl, channels[i % cfg.channels]));
  }
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->Run(); });

  std::this_thread::sleep_until(tl.window_start);
  const peers::Rusage ru0 = peers::Rusage::Now();
  std::this_thread::sleep_until(tl.window_end);
  const peers::Rusage ru1 = peers::Rusage::Now();
  for (auto& w : workers) w->CancelStreams();  // blocking stream_out: "cancelled at the end"
  for (auto& t : threads) t.join();
  const peers::Rusage ru_end = peers::Rusage::Now();

  Stats all;
  for (auto& w : workers) {
    Stats& s = w->stats();
    all.lat_us.insert(all.lat_us.end(), s.lat_us.begin(), s.lat_us.end());
    all.ops_window += s.ops_window;
    all.ops_total += s.ops_total;
    all.calls_window += s.calls_window;
    all.calls_total += s.calls_total;
    all.bytes_window += s.bytes_window;
    all.errors += s.errors;
  }
  std::sort(all.lat_us.begin(), all.lat_us.end());
  double mean = 0;
  for (double v : all.lat_us) mean += v;
  if (!all.lat_us.empty()) mean /= static_cast<double>(all.lat_us.size());

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
      "{\"impl\":\"grpcpp\",\"mode\":\"%s\",\"threads\":%d,\"channels\":%d,\"concurrency\":%d,"
      "\"size\":%d,\"seconds\":%.3f,\"ops\":%llu,\"calls_per_s\":%.1f,\"msgs_per_s\":%.1f,"
      "\"mb_per_s\":%.3f,\"lat_kind\":\"%s\",\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,"
      "\"mean_us\":%.2f,\"cpu_s\":%.3f,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,"
      "\"cpu_us_per_op\":%.3f,\"maxrss_kb\":%ld,\"ops_total\":%llu,\"calls_total\":%llu,"
      "\"errors\":%llu}\n",
      cfg.mode.c_str(), cfg.threads, cfg.channels, cfg.concurrency, cfg.size, secs,
      static_cast<unsigned long long>(all.ops_window), static_cast<double>(all.calls_window) / secs,
      ops / secs, static_cast<double>(all.bytes_window) / 1e6 / secs, lat_kind,
      Percentile(all.lat_us, 0.50), Percentile(all.lat_us, 0.90), Percentile(all.lat_us, 0.99),
      mean, cpu, cpu_user, cpu_sys, ops > 0 ? cpu * 1e6 / ops : 0.0, ru_end.maxrss_kb,
      static_cast<unsigned long long>(all.ops_total),
      static_cast<unsigned long long>(all.calls_total),
      static_cast<unsigned long long>(all.errors));
  std::fflush(stdout);
  if (all.errors != 0) return 1;
  if (all.ops_window == 0) {
    std::fprintf(stderr, "grpcpp-bench-client: nothing was measured\n");
    return 1;
  }
  return 0;
}
