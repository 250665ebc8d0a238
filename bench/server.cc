// h2rpc-bench-server: bench.Bench served by h2rpc through the generated service base
// (protoc-gen-h2rpc), as specified by shared/bench/CONTRACT.md and the comments of
// protos/bench/bench.proto.
//
//   h2rpc-bench-server --port P [--bind ADDR] [--max_connection_age_ms MS]
//
// --max_connection_age_ms (not in the contract; the chaos stages' lifetime run) ends every
// connection that old with a graceful GOAWAY (ServerOptions::max_connection_age), grace 20 s:
// far beyond the chaos clients' longest deadline (5 s), so that the run tests the draining,
// not calls cut off at the grace's end.
//
// Prints {"impl":"h2rpc","event":"listening","port":N} once serving (N is the chosen port
// with --port 0). SIGUSR1 prints a "stats" line; SIGTERM/SIGINT shut down cleanly and print
// the "exit" line with every counter, cpu_s and maxrss_kb. The signals are blocked in every
// thread and taken by sigwait() on the main thread: nothing runs inside a signal handler.
//
// Settings differing from h2rpc's defaults, and why:
//   max message sizes INT_MAX  as the grpc++ peer, so that no size a driver picks is refused
//   max_concurrent_calls 4096  the footprint run holds 1,000 streams open on one connection;
//                              the default (256) would refuse most of them

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "bench/bench.h2rpc.h"
#include "bench/bench_util.h"
#include "h2rpc.h"

namespace {

constexpr int kMaxConcurrentCalls = 4096;

struct Counters {
  std::atomic<uint64_t> unary{0};
  std::atomic<uint64_t> stream_out_calls{0}, stream_out_msgs{0};
  std::atomic<uint64_t> stream_in_calls{0}, stream_in_msgs{0};
  std::atomic<uint64_t> echo_calls{0}, echo_msgs{0};
  std::atomic<uint64_t> bytes_in{0}, bytes_out{0};
};

Counters g_counters;

inline void Add(std::atomic<uint64_t>& c, uint64_t n) { c.fetch_add(n, std::memory_order_relaxed); }
inline unsigned long long Get(const std::atomic<uint64_t>& c) {
  return static_cast<unsigned long long>(c.load(std::memory_order_relaxed));
}

void PrintLine(const char* event) {
  const bench::Rusage ru = bench::Rusage::Now();
  std::printf(
      "{\"impl\":\"h2rpc\",\"event\":\"%s\",\"unary\":%llu,"
      "\"stream_out_calls\":%llu,\"stream_out_msgs\":%llu,"
      "\"stream_in_calls\":%llu,\"stream_in_msgs\":%llu,"
      "\"echo_calls\":%llu,\"echo_msgs\":%llu,"
      "\"bytes_in\":%llu,\"bytes_out\":%llu,\"cpu_s\":%.3f,\"maxrss_kb\":%ld}\n",
      event, Get(g_counters.unary), Get(g_counters.stream_out_calls),
      Get(g_counters.stream_out_msgs), Get(g_counters.stream_in_calls),
      Get(g_counters.stream_in_msgs), Get(g_counters.echo_calls), Get(g_counters.echo_msgs),
      Get(g_counters.bytes_in), Get(g_counters.bytes_out), ru.user_s + ru.sys_s, ru.maxrss_kb);
  std::fflush(stdout);
}

class BenchService final : public bench::Bench::Service {
 public:
  h2rpc::Status Unary(h2rpc::ServerContext*, const bench::Payload* request,
                      bench::Payload* response) override {
    Add(g_counters.unary, 1);
    Add(g_counters.bytes_in, request->body().size());
    response->set_body(request->body());
    Add(g_counters.bytes_out, response->body().size());
    return h2rpc::Status();
  }

  h2rpc::Status StreamOut(h2rpc::ServerContext*, const bench::StreamRequest* request,
                          h2rpc::ServerWriter<bench::Payload>* writer) override {
    Add(g_counters.stream_out_calls, 1);
    if (request->size() < 0) {
      return h2rpc::Status(h2rpc::StatusCode::kInvalidArgument, "size must be >= 0");
    }
    bench::Payload payload;
    payload.set_body(std::string(static_cast<size_t>(request->size()), 'x'));
    const bool unbounded = request->count() <= 0;
    for (int64_t sent = 0; unbounded || sent < request->count(); ++sent) {
      if (!writer->Write(payload)) {
        // The client went away (for count <= 0 that is the normal end).
        return h2rpc::Status(h2rpc::StatusCode::kCancelled, "stream cancelled");
      }
      Add(g_counters.stream_out_msgs, 1);
      Add(g_counters.bytes_out, payload.body().size());
    }
    return h2rpc::Status();
  }

  h2rpc::Status StreamIn(h2rpc::ServerContext*, h2rpc::ServerReader<bench::Payload>* reader,
                         bench::Summary* response) override {
    Add(g_counters.stream_in_calls, 1);
    bench::Payload payload;
    int64_t count = 0;
    int64_t bytes = 0;
    while (reader->Read(&payload)) {
      ++count;
      bytes += static_cast<int64_t>(payload.body().size());
      Add(g_counters.stream_in_msgs, 1);
      Add(g_counters.bytes_in, payload.body().size());
    }
    response->set_count(count);
    response->set_bytes(bytes);
    return h2rpc::Status();
  }

  h2rpc::Status Echo(h2rpc::ServerContext*,
                     h2rpc::ServerReaderWriter<bench::Payload, bench::Payload>* stream) override {
    Add(g_counters.echo_calls, 1);
    bench::Payload payload;
    while (stream->Read(&payload)) {
      Add(g_counters.bytes_in, payload.body().size());
      if (!stream->Write(payload)) {
        return h2rpc::Status(h2rpc::StatusCode::kCancelled, "stream cancelled");
      }
      Add(g_counters.echo_msgs, 1);
      Add(g_counters.bytes_out, payload.body().size());
    }
    return h2rpc::Status();
  }
};

std::string JoinHostPort(const std::string& host, long long port) {
  if (bench::IsUnixAddress(host)) return host;  // the socket itself; no port
  std::string h = host;
  if (h.find(':') != std::string::npos && h.front() != '[') h = "[" + h + "]";
  return h + ":" + std::to_string(port);
}

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "h2rpc-bench-server: %s\nusage: h2rpc-bench-server --port P [--bind ADDR] "
               "[--max_connection_age_ms MS]\n"
               "  --bind unix:PATH or unix-abstract:NAME listens there; --port is then optional "
               "and ignored\n",
               why.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  bench::Flags flags({"port", "bind", "max_connection_age_ms"});
  if (!flags.Parse(argc, argv)) Usage(flags.error());
  const long long max_age_ms = flags.Int("max_connection_age_ms", 0);
  if (max_age_ms < 0) Usage("--max_connection_age_ms must not be negative");
  const std::string bind = flags.Str("bind", "127.0.0.1");
  const bool unix_socket = bench::IsUnixAddress(bind);
  if (!flags.Has("port") && !unix_socket) Usage("--port is required (0 picks a free port)");
  const long long port = unix_socket ? 0 : flags.Int("port", 0);
  if (port < 0 || port > 65535) Usage("--port out of range");

  // Block the signals before h2rpc starts any thread, so that every thread inherits the mask
  // and only sigwait() below ever receives them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  BenchService service;
  h2rpc::ServerBuilder builder;
  int selected_port = 0;
  const std::string address = JoinHostPort(bind, port);
  builder.AddListeningPort(address, &selected_port);
  builder.SetMaxReceiveMessageSize(INT_MAX);
  builder.SetMaxSendMessageSize(INT_MAX);
  if (max_age_ms > 0) {
    builder.options().max_connection_age = std::chrono::milliseconds(max_age_ms);
    builder.options().max_connection_age_grace = std::chrono::seconds(20);
  }
  builder.SetMaxConcurrentCalls(kMaxConcurrentCalls);
  builder.RegisterService(&service);
  std::unique_ptr<h2rpc::Server> server = builder.BuildAndStart();
  if (!server || (selected_port == 0 && !unix_socket)) {
    std::fprintf(stderr, "h2rpc-bench-server: cannot listen on %s: %s\n", address.c_str(),
                 builder.error().ToString().c_str());
    return 1;
  }
  std::printf("{\"impl\":\"h2rpc\",\"event\":\"listening\",\"port\":%d}\n", selected_port);
  std::fflush(stdout);

  for (;;) {
    int sig = 0;
    if (sigwait(&sigs, &sig) != 0) continue;
    if (sig == SIGUSR1) {
      PrintLine("stats");
      continue;
    }
    break;  // SIGTERM or SIGINT
  }

  // Calls in flight get a moment to finish; the rest (endless StreamOut streams) are
  // cancelled, and their handlers see Write() fail. Shutdown returns once every call ended.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Wait();
  PrintLine("exit");
  return 0;
}
