// h2rpc-chaos-client: the h2rpc client treating a bench.Bench server (shared/bench/bench.proto)
// the way a busy real client does, the C++ twin of peers/grpcjs/chaos_client.js: many calls in
// flight over two connections, all four call kinds, messages from 0 B to 4 MiB, deadlines of
// 5 ms, 50 ms and 5 s, and a quarter of the calls cancelled after 0-4 ms. Every call must end
// OK, CANCELLED or DEADLINE_EXCEEDED, and every OK call must carry exactly what was sent.
// Anything else (INTERNAL, UNAVAILABLE: a connection lost; wrong contents) fails the run, and so
// does a call still open after 30 s (a hang).
//
//   h2rpc-chaos-client --target HOST:PORT [--calls N] [--threads T] [--seed S]
//
// Deterministic per seed in what it asks (kinds, sizes, deadlines, cancels); timing decides the
// outcomes. Prints one JSON line of outcome counts on stdout; exit status 1 on any unexpected
// outcome, 2 on bad flags, 3 from the watchdog.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench.h2rpc.h"
#include "bench/bench_util.h"
#include "h2rpc.h"

namespace {

using Clock = std::chrono::steady_clock;
using h2rpc::StatusCode;

constexpr std::array<size_t, 7> kSizes = {0, 1, 64, 1000, 70000, 1 << 20, 4 << 20};
constexpr std::array<int, 3> kDeadlinesMs = {5, 50, 5000};
constexpr auto kHang = std::chrono::seconds(30);

/// xorshift32, seeded per call so that a run's requests do not depend on thread timing.
class Random {
 public:
  explicit Random(uint32_t seed) : state_(seed == 0 ? 1 : seed) {}
  uint32_t operator()(uint32_t n) {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_ % n;
  }

 private:
  uint32_t state_;
};

/// Cancels contexts at their time from one thread; a call withdraws its context before the
/// context goes away, so TryCancel never meets a dead one.
class Canceller {
 public:
  Canceller() : thread_([this] { Run(); }) {}
  ~Canceller() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  using Ticket = std::multimap<Clock::time_point, h2rpc::ClientContext*>::iterator;
  Ticket Add(Clock::time_point at, h2rpc::ClientContext* ctx) {
    std::lock_guard<std::mutex> lock(mu_);
    Ticket t = due_.emplace(at, ctx);
    cv_.notify_one();
    return t;
  }
  /// After the call: forget `ctx` whether or not its time came (then `t` is gone already).
  void Withdraw(Ticket t, h2rpc::ClientContext* ctx) {
    std::lock_guard<std::mutex> lock(mu_);
    if (fired_.erase(ctx) == 0) due_.erase(t);
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      if (due_.empty()) {
        cv_.wait(lock);
        continue;
      }
      const auto next = due_.begin();
      const Clock::time_point at = next->first;  // a copy: the entry may go while we wait
      if (Clock::now() < at) {
        cv_.wait_until(lock, at);
        continue;
      }
      next->second->TryCancel();
      fired_.insert(next->second);
      due_.erase(next);
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<Clock::time_point, h2rpc::ClientContext*> due_;
  std::set<h2rpc::ClientContext*> fired_;  // cancelled; their tickets are gone from due_
  bool stop_ = false;
  std::thread thread_;
};

struct Outcomes {
  std::mutex mu;
  std::map<std::string, long> counts;
  std::vector<std::string> unexpected;

  void Record(const char* kind, const h2rpc::Status& st, bool content_ok) {
    const bool expected = st.code() == StatusCode::kOk || st.code() == StatusCode::kCancelled ||
                          st.code() == StatusCode::kDeadlineExceeded;
    std::string name = std::string(kind) + " " + std::string(h2rpc::StatusCodeName(st.code()));
    if (!content_ok) name += " (wrong content)";
    std::lock_guard<std::mutex> lock(mu);
    ++counts[name];
    if ((!expected || !content_ok) && unexpected.size() < 10) {
      unexpected.push_back(name + ": " + st.message());
    }
  }
};

struct Call {
  int index;
  Random rng;
  size_t size;
  std::string body;
};

h2rpc::Status Unary(bench::Bench::Stub& stub, h2rpc::ClientContext& ctx, Call& c, bool* ok) {
  bench::Payload request, reply;
  request.set_body(c.body);
  h2rpc::Status st = stub.Unary(&ctx, request, &reply);
  *ok = !st.ok() || reply.body() == c.body;
  return st;
}

h2rpc::Status StreamOut(bench::Bench::Stub& stub, h2rpc::ClientContext& ctx, Call& c, bool* ok) {
  bench::StreamRequest request;
  const int count = 1 + static_cast<int>(c.rng(20));
  const size_t each = std::min<size_t>(c.size, 100000);
  request.set_count(count);
  request.set_size(static_cast<int32_t>(each));
  auto reader = stub.StreamOut(&ctx, request);
  bench::Payload m;
  int received = 0;
  bool sizes_ok = true;
  while (reader->Read(&m)) {
    ++received;
    if (m.body().size() != each) sizes_ok = false;
  }
  h2rpc::Status st = reader->Finish();
  *ok = !st.ok() || (sizes_ok && received == count);
  return st;
}

h2rpc::Status StreamIn(bench::Bench::Stub& stub, h2rpc::ClientContext& ctx, Call& c, bool* ok) {
  const int messages = 1 + static_cast<int>(c.rng(10));
  const size_t each = std::min<size_t>(c.size, 200000);
  bench::Payload m;
  m.set_body(c.body.substr(0, each));
  bench::Summary summary;
  auto writer = stub.StreamIn(&ctx, &summary);
  bool all_written = true;
  for (int k = 0; k < messages && all_written; ++k) all_written = writer->Write(m);
  if (all_written) writer->WritesDone();
  h2rpc::Status st = writer->Finish();
  *ok = !st.ok() || (all_written && summary.count() == messages &&
                     summary.bytes() == static_cast<int64_t>(messages * each));
  return st;
}

h2rpc::Status Echo(bench::Bench::Stub& stub, h2rpc::ClientContext& ctx, Call& c, bool* ok) {
  const int messages = 1 + static_cast<int>(c.rng(10));
  bench::Payload m, reply;
  m.set_body(c.body.substr(0, std::min<size_t>(c.size, 300000)));
  auto stream = stub.Echo(&ctx);
  int echoed = 0;
  bool contents_ok = true;
  // One write, one read: a client writing everything first could stall on flow control with
  // a server that blocks writing echoes nobody reads yet.
  for (int k = 0; k < messages; ++k) {
    if (!stream->Write(m) || !stream->Read(&reply)) break;
    ++echoed;
    if (reply.body() != m.body()) contents_ok = false;
  }
  if (echoed == messages) {
    stream->WritesDone();
    while (stream->Read(&reply)) contents_ok = false;  // more echoes than writes
  }
  h2rpc::Status st = stream->Finish();
  *ok = !st.ok() || (contents_ok && echoed == messages);
  return st;
}

struct Run {
  int calls = 4000;
  int threads = 64;
  uint32_t seed = 1;
  std::vector<std::unique_ptr<bench::Bench::Stub>> stubs;  // one per connection
  std::atomic<int> next{0};
  Canceller canceller;
  Outcomes outcomes;
  // Start time of each thread's current call (ns since epoch of Clock; 0: idle), for the
  // watchdog.
  std::vector<std::atomic<int64_t>> started;
  explicit Run(int threads) : started(static_cast<size_t>(threads)) {}
};

void Worker(Run& run, int thread) {
  for (;;) {
    const int i = run.next.fetch_add(1);
    if (i >= run.calls) return;
    Call c{i, Random(run.seed * 2654435761u + static_cast<uint32_t>(i)), 0, {}};
    c.size = kSizes[c.rng(kSizes.size())];
    c.body.assign(c.size, static_cast<char>('a' + i % 26));
    const auto deadline_ms = kDeadlinesMs[c.rng(kDeadlinesMs.size())];
    const bool cancel = c.rng(4) == 0;
    const int cancel_after_ms = static_cast<int>(c.rng(5));
    const uint32_t kind = c.rng(4);
    bench::Bench::Stub& stub = *run.stubs[static_cast<size_t>(i) % run.stubs.size()];

    const auto now = Clock::now();
    run.started[static_cast<size_t>(thread)].store(now.time_since_epoch().count());
    h2rpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
    Canceller::Ticket ticket{};
    if (cancel) ticket = run.canceller.Add(now + std::chrono::milliseconds(cancel_after_ms), &ctx);
    bool ok = true;
    h2rpc::Status st;
    const char* name = "";
    switch (kind) {
      case 0:
        name = "unary";
        st = Unary(stub, ctx, c, &ok);
        break;
      case 1:
        name = "stream_out";
        st = StreamOut(stub, ctx, c, &ok);
        break;
      case 2:
        name = "stream_in";
        st = StreamIn(stub, ctx, c, &ok);
        break;
      default:
        name = "echo";
        st = Echo(stub, ctx, c, &ok);
        break;
    }
    if (cancel) run.canceller.Withdraw(ticket, &ctx);
    run.started[static_cast<size_t>(thread)].store(0);
    run.outcomes.Record(name, st, ok);
  }
}

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "h2rpc-chaos-client: %s\n"
               "usage: h2rpc-chaos-client --target HOST:PORT [--calls N] [--threads T] "
               "[--seed S]\n",
               why.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  bench::Flags flags({"target", "calls", "threads", "seed"});
  if (!flags.Parse(argc, argv)) Usage(flags.error());
  const std::string target = flags.Str("target", "");
  const long long calls = flags.Int("calls", 4000);
  const long long threads = flags.Int("threads", 64);
  const long long seed = flags.Int("seed", 1);
  if (target.empty()) Usage("--target is required");
  if (calls < 1 || calls > 10'000'000 || threads < 1 || threads > 1024 || seed < 0 ||
      seed > UINT32_MAX) {
    Usage("calls in 1..10^7, threads in 1..1024, seed in 0..2^32-1");
  }

  Run run(static_cast<int>(threads));
  run.calls = static_cast<int>(calls);
  run.threads = static_cast<int>(threads);
  run.seed = static_cast<uint32_t>(seed);
  h2rpc::ChannelOptions options;
  options.max_receive_message_size = 8 << 20;
  options.max_send_message_size = 8 << 20;
  for (int c = 0; c < 2; ++c) {
    run.stubs.push_back(bench::Bench::NewStub(h2rpc::CreateChannel(target, options)));
  }

  const auto start = Clock::now();
  std::atomic<bool> done{false};
  // Every call has a deadline of 5 s at most: one still open long after means a hang. Name it
  // instead of being killed silently by an outside timeout.
  std::thread watchdog([&] {
    auto last_report = Clock::now();
    while (!done.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      const auto now = Clock::now();
      for (size_t t = 0; t < run.started.size(); ++t) {
        const int64_t since = run.started[t].load();
        if (since != 0 && now - Clock::time_point(Clock::duration(since)) > kHang) {
          std::fprintf(stderr, "h2rpc-chaos-client: thread %zu's call open for over %lld s\n", t,
                       static_cast<long long>(kHang.count()));
          std::_Exit(3);
        }
      }
      if (now - last_report > std::chrono::seconds(10)) {
        last_report = now;
        std::fprintf(stderr, "h2rpc-chaos-client: %lld s, %d calls started\n",
                     static_cast<long long>(
                         std::chrono::duration_cast<std::chrono::seconds>(now - start).count()),
                     std::min(run.next.load(), run.calls));
      }
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < run.threads; ++t) workers.emplace_back(Worker, std::ref(run), t);
  for (auto& w : workers) w.join();
  done = true;
  watchdog.join();

  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  std::string counts;
  for (const auto& [name, n] : run.outcomes.counts) {
    counts += (counts.empty() ? "\"" : ",\"") + name + "\":" + std::to_string(n);
  }
  std::printf("{\"impl\":\"h2rpc\",\"calls\":%d,\"ms\":%lld,\"counts\":{%s}}\n", run.calls,
              static_cast<long long>(ms), counts.c_str());
  if (!run.outcomes.unexpected.empty()) {
    std::fprintf(stderr, "h2rpc-chaos-client: unexpected outcomes:\n");
    for (const auto& u : run.outcomes.unexpected) std::fprintf(stderr, "  %s\n", u.c_str());
    return 1;
  }
  return 0;
}
