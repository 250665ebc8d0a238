// grpcpp-bench-server: bench.Bench on the grpc++ synchronous API, as specified
// by shared/bench/CONTRACT.md and the comments of protos/bench/bench.proto.
//
//   grpcpp-bench-server --port P [--bind ADDR]
//
// Prints {"impl":"grpcpp","event":"listening","port":N} once serving.
// SIGUSR1 prints a "stats" line; SIGTERM/SIGINT shut down cleanly and print
// the "exit" line. Signals are taken with sigwait() on the main thread (they
// are blocked in every thread), never in a signal handler.

#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "bench/bench.grpc.pb.h"
#include "common.h"

namespace {

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
  const peers::Rusage ru = peers::Rusage::Now();
  std::printf(
      "{\"impl\":\"grpcpp\",\"event\":\"%s\",\"unary\":%llu,"
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
  grpc::Status Unary(grpc::ServerContext*, const bench::Payload* request,
                     bench::Payload* response) override {
    Add(g_counters.unary, 1);
    Add(g_counters.bytes_in, request->body().size());
    response->set_body(request->body());
    Add(g_counters.bytes_out, response->body().size());
    return grpc::Status::OK;
  }

  grpc::Status StreamOut(grpc::ServerContext*, const bench::StreamRequest* request,
                         grpc::ServerWriter<bench::Payload>* writer) override {
    Add(g_counters.stream_out_calls, 1);
    if (request->size() < 0) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "size must be >= 0");
    }
    bench::Payload payload;
    payload.set_body(std::string(static_cast<size_t>(request->size()), 'x'));
    const bool unbounded = request->count() <= 0;
    for (int64_t sent = 0; unbounded || sent < request->count(); ++sent) {
      if (!writer->Write(payload)) {
        // The client went away (for count <= 0 that is the normal end).
        return grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled");
      }
      Add(g_counters.stream_out_msgs, 1);
      Add(g_counters.bytes_out, payload.body().size());
    }
    return grpc::Status::OK;
  }

  grpc::Status StreamIn(grpc::ServerContext*, grpc::ServerReader<bench::Payload>* reader,
                        bench::Summary* response) override {
    Add(g_counters.stream_in_calls, 1);
    bench::Payload payload;
    int64_t count = 0, bytes = 0;
    while (reader->Read(&payload)) {
      ++count;
      bytes += static_cast<int64_t>(payload.body().size());
      Add(g_counters.stream_in_msgs, 1);
      Add(g_counters.bytes_in, payload.body().size());
    }
    response->set_count(count);
    response->set_bytes(bytes);
    return grpc::Status::OK;
  }

  grpc::Status Echo(grpc::ServerContext*,
                    grpc::ServerReaderWriter<bench::Payload, bench::Payload>* stream) override {
    Add(g_counters.echo_calls, 1);
    bench::Payload payload;
    while (stream->Read(&payload)) {
      Add(g_counters.bytes_in, payload.body().size());
      if (!stream->Write(payload)) {
        return grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled");
      }
      Add(g_counters.echo_msgs, 1);
      Add(g_counters.bytes_out, payload.body().size());
    }
    return grpc::Status::OK;
  }
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "grpcpp-bench-server: %s\nusage: grpcpp-bench-server --port P [--bind ADDR]\n",
               why.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  peers::Flags flags({"port", "bind"});
  if (!flags.Parse(argc, argv)) Usage(flags.error());
  const std::string bind = flags.Str("bind", "127.0.0.1");
  const bool unix_socket = peers::IsUnixAddress(bind);  // --port is then optional and ignored
  if (!flags.Has("port") && !unix_socket) Usage("--port is required (0 picks a free port)");
  const long long port = unix_socket ? 0 : flags.Int("port", 0);
  if (port < 0 || port > 65535) Usage("--port out of range");

  // Block the signals before grpc starts any thread so that every thread
  // inherits the mask and only sigwait() below ever receives them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  BenchService service;
  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(peers::JoinHostPort(bind, port), grpc::InsecureServerCredentials(),
                           &selected_port);
  builder.SetMaxReceiveMessageSize(INT_MAX);
  builder.SetMaxSendMessageSize(INT_MAX);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || selected_port == 0) {
    std::fprintf(stderr, "grpcpp-bench-server: cannot listen on %s\n",
                 peers::JoinHostPort(bind, port).c_str());
    return 1;
  }
  std::printf("{\"impl\":\"grpcpp\",\"event\":\"listening\",\"port\":%d}\n", selected_port);
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

  // Give calls in flight a moment to finish; then grpc cancels the rest
  // (e.g. endless StreamOut streams), whose handlers see Write() fail.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Wait();
  PrintLine("exit");
  return 0;
}
