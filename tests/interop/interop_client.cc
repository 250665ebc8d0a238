// h2rpc-interop-client: gRPC's interop test cases (doc/interop-test-descriptions.md) on h2rpc's
// generated stubs, one case per invocation.
//
//   h2rpc-interop-client --server_host=H --server_port=P --test_case=NAME
//       [--use_tls=false|true] [--server_host_override=NAME] [--tls_ca_file=F] [--num_times=N]
//       [--soak_iterations=10] [--soak_max_failures=0]
//       [--soak_per_iteration_max_acceptable_latency_ms=1000] [--soak_overall_timeout_seconds=10]
//       [--soak_min_time_ms_between_rpcs=0] [--soak_request_size=271828]
//       [--soak_response_size=314159]
//
// rpc_soak and channel_soak (the soak_* flags) repeat a large unary call on one channel, or
// each on a new channel, and fail if more iterations than allowed fail or run over the
// per-iteration latency, or if the iterations do not all finish within the overall timeout.
//
// Flags accept "--flag=value" and "--flag value". Exit 0 on pass ("NAME: passed" on stdout);
// otherwise non-zero with ONE line on stderr saying why. Every call has a deadline, so a silent
// server fails the case instead of hanging it. --server_host=unix:PATH (or unix-abstract:NAME)
// is the whole target; --server_port is then not needed.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "grpc/testing/test.h2rpc.h"
#include "h2rpc.h"
#include "tests/interop/grpc_test_credentials.h"
#include "tests/interop/interop_flags.h"

namespace {

using grpc::testing::Empty;
using grpc::testing::SimpleRequest;
using grpc::testing::SimpleResponse;
using grpc::testing::StreamingInputCallRequest;
using grpc::testing::StreamingInputCallResponse;
using grpc::testing::StreamingOutputCallRequest;
using grpc::testing::StreamingOutputCallResponse;
using h2rpc::ClientContext;
using h2rpc::Compression;
using h2rpc::Status;
using h2rpc::StatusCode;

constexpr int kLargeRequestSize = 271828;
constexpr int kLargeResponseSize = 314159;
constexpr char kInitialValue[] = "test_initial_metadata_value";
const std::string kTrailingBinValue("\xab\xab\xab", 3);
// Per-call bound: long enough for any case on loopback, short enough that a stuck call is
// reported (with its reason) before the matrix's per-case timeout kills the process.
constexpr std::chrono::seconds kCallDeadline{8};

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void Fail(const std::string& why) { throw Failure(why); }

// Printable, one-line rendering of a string (status messages may hold control characters).
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string StatusText(const Status& s) {
  return "status " + std::string(h2rpc::StatusCodeName(s.code())) + " " + Quote(s.message());
}

void ExpectOk(const Status& s, const std::string& what) {
  if (!s.ok()) Fail(what + " failed: " + StatusText(s));
}

void ExpectCode(const Status& s, StatusCode code, const std::string& what) {
  if (s.code() != code) {
    Fail(what + ": expected " + std::string(h2rpc::StatusCodeName(code)) + ", got " +
         StatusText(s));
  }
}

void ExpectZeros(const grpc::testing::Payload& p, int size, const std::string& what) {
  if (p.body().size() != static_cast<size_t>(size)) {
    Fail(what + ": payload body of " + std::to_string(p.body().size()) + " bytes, expected " +
         std::to_string(size));
  }
  if (p.body().find_first_not_of('\0') != std::string::npos) {
    Fail(what + ": payload body is not all zeros");
  }
}

// The compressed flag of the response message received last.
void ExpectCompressed(const ClientContext& ctx, bool expected, const std::string& what) {
  if (ctx.last_message_compressed() != expected) {
    Fail(what + (expected ? ": response arrived without the compressed flag"
                          : ": response arrived with the compressed flag set"));
  }
}

std::string Zeros(int n) { return std::string(static_cast<size_t>(n), '\0'); }

void SetDeadline(ClientContext* ctx) { ctx->set_timeout(kCallDeadline); }

SimpleRequest LargeRequest() {
  SimpleRequest req;
  req.set_response_type(grpc::testing::COMPRESSABLE);
  req.set_response_size(kLargeResponseSize);
  req.mutable_payload()->set_body(Zeros(kLargeRequestSize));
  return req;
}

struct SoakOptions {
  int iterations = 10;
  int max_failures = 0;
  int max_latency_ms = 1000;
  int overall_timeout_s = 10;
  int min_ms_between_rpcs = 0;
  int request_size = kLargeRequestSize;
  int response_size = kLargeResponseSize;
};

using ChannelFactory = std::function<std::shared_ptr<h2rpc::Channel>()>;

class InteropClient {
 public:
  InteropClient(ChannelFactory new_channel, SoakOptions soak)
      : new_channel_(std::move(new_channel)),
        soak_(soak),
        channel_(new_channel_()),
        stub_(grpc::testing::TestService::NewStub(channel_)),
        unimplemented_stub_(grpc::testing::UnimplementedService::NewStub(channel_)) {}

  std::map<std::string, std::function<void()>> Cases() {
    return {
        {"empty_unary", [this] { EmptyUnary(); }},
        {"large_unary", [this] { LargeUnary(); }},
        {"client_compressed_unary", [this] { ClientCompressedUnary(); }},
        {"server_compressed_unary", [this] { ServerCompressedUnary(); }},
        {"client_streaming", [this] { ClientStreaming(); }},
        {"client_compressed_streaming", [this] { ClientCompressedStreaming(); }},
        {"server_streaming", [this] { ServerStreaming(); }},
        {"server_compressed_streaming", [this] { ServerCompressedStreaming(); }},
        {"ping_pong", [this] { PingPong(); }},
        {"empty_stream", [this] { EmptyStream(); }},
        {"custom_metadata", [this] { CustomMetadata(); }},
        {"status_code_and_message", [this] { StatusCodeAndMessage(); }},
        {"special_status_message", [this] { SpecialStatusMessage(); }},
        {"unimplemented_method", [this] { UnimplementedMethod(); }},
        {"unimplemented_service", [this] { UnimplementedService(); }},
        {"cancel_after_begin", [this] { CancelAfterBegin(); }},
        {"cancel_after_first_response", [this] { CancelAfterFirstResponse(); }},
        {"timeout_on_sleeping_server", [this] { TimeoutOnSleepingServer(); }},
        {"rpc_soak", [this] { Soak(false); }},
        {"channel_soak", [this] { Soak(true); }},
    };
  }

 private:
  void EmptyUnary() {
    ClientContext ctx;
    SetDeadline(&ctx);
    Empty req, resp;
    ExpectOk(stub_->EmptyCall(&ctx, req, &resp), "EmptyCall");
    if (resp.ByteSizeLong() != 0) Fail("EmptyCall: response is not empty");
  }

  void LargeUnary() {
    ClientContext ctx;
    SetDeadline(&ctx);
    SimpleResponse resp;
    ExpectOk(stub_->UnaryCall(&ctx, LargeRequest(), &resp), "UnaryCall");
    ExpectZeros(resp.payload(), kLargeResponseSize, "UnaryCall");
  }

  void ClientCompressedUnary() {
    {  // 1. Feature probe: an uncompressed message claiming expect_compressed.
      ClientContext ctx;
      SetDeadline(&ctx);
      SimpleRequest req = LargeRequest();
      req.mutable_expect_compressed()->set_value(true);
      SimpleResponse resp;
      ExpectCode(stub_->UnaryCall(&ctx, req, &resp), StatusCode::kInvalidArgument,
                 "probe UnaryCall (uncompressed, expect_compressed=true)");
    }
    {  // 2. The compressed message.
      ClientContext ctx;
      SetDeadline(&ctx);
      ctx.set_compression_algorithm(Compression::kGzip);
      SimpleRequest req = LargeRequest();
      req.mutable_expect_compressed()->set_value(true);
      SimpleResponse resp;
      ExpectOk(stub_->UnaryCall(&ctx, req, &resp), "compressed UnaryCall");
      ExpectZeros(resp.payload(), kLargeResponseSize, "compressed UnaryCall");
    }
    {  // 3. The uncompressed message.
      ClientContext ctx;
      SetDeadline(&ctx);
      SimpleRequest req = LargeRequest();
      req.mutable_expect_compressed()->set_value(false);
      SimpleResponse resp;
      ExpectOk(stub_->UnaryCall(&ctx, req, &resp), "uncompressed UnaryCall");
      ExpectZeros(resp.payload(), kLargeResponseSize, "uncompressed UnaryCall");
    }
  }

  void ServerCompressedUnary() {
    for (bool compressed : {true, false}) {
      const std::string what =
          std::string("UnaryCall(response_compressed=") + (compressed ? "true)" : "false)");
      ClientContext ctx;
      SetDeadline(&ctx);
      SimpleRequest req = LargeRequest();
      req.mutable_response_compressed()->set_value(compressed);
      SimpleResponse resp;
      ExpectOk(stub_->UnaryCall(&ctx, req, &resp), what);
      ExpectCompressed(ctx, compressed, what);
      ExpectZeros(resp.payload(), kLargeResponseSize, what);
    }
  }

  void ClientStreaming() {
    ClientContext ctx;
    SetDeadline(&ctx);
    StreamingInputCallResponse resp;
    auto stream = stub_->StreamingInputCall(&ctx, &resp);
    for (int size : {27182, 8, 1828, 45904}) {
      StreamingInputCallRequest req;
      req.mutable_payload()->set_body(Zeros(size));
      if (!stream->Write(req)) break;  // Finish() says why
    }
    stream->WritesDone();
    ExpectOk(stream->Finish(), "StreamingInputCall");
    if (resp.aggregated_payload_size() != 74922) {
      Fail("StreamingInputCall: aggregated_payload_size " +
           std::to_string(resp.aggregated_payload_size()) + ", expected 74922");
    }
  }

  void ClientCompressedStreaming() {
    {  // 1. Feature probe: one uncompressed message claiming expect_compressed.
      ClientContext ctx;
      SetDeadline(&ctx);
      StreamingInputCallResponse resp;
      auto stream = stub_->StreamingInputCall(&ctx, &resp);
      StreamingInputCallRequest req;
      req.mutable_expect_compressed()->set_value(true);
      req.mutable_payload()->set_body(Zeros(27182));
      if (stream->Write(req)) stream->WritesDone();
      ExpectCode(stream->Finish(), StatusCode::kInvalidArgument,
                 "probe StreamingInputCall (uncompressed, expect_compressed=true)");
    }
    // 2. One call: a compressed message, then an uncompressed one, then half-close.
    ClientContext ctx;
    SetDeadline(&ctx);
    ctx.set_compression_algorithm(Compression::kGzip);
    StreamingInputCallResponse resp;
    auto stream = stub_->StreamingInputCall(&ctx, &resp);
    StreamingInputCallRequest req;
    req.mutable_expect_compressed()->set_value(true);
    req.mutable_payload()->set_body(Zeros(27182));
    bool ok = stream->Write(req);
    if (ok) {
      req.mutable_expect_compressed()->set_value(false);
      req.mutable_payload()->set_body(Zeros(45904));
      h2rpc::WriteOptions uncompressed;
      uncompressed.no_compression = true;
      ok = stream->Write(req, uncompressed);
    }
    if (ok) stream->WritesDone();
    ExpectOk(stream->Finish(), "compressed StreamingInputCall");
    if (resp.aggregated_payload_size() != 73086) {
      Fail("compressed StreamingInputCall: aggregated_payload_size " +
           std::to_string(resp.aggregated_payload_size()) + ", expected 73086");
    }
  }

  void ServerStreaming() {
    ClientContext ctx;
    SetDeadline(&ctx);
    StreamingOutputCallRequest req;
    const std::vector<int> sizes = {31415, 9, 2653, 58979};
    for (int size : sizes) req.add_response_parameters()->set_size(size);
    auto stream = stub_->StreamingOutputCall(&ctx, req);
    StreamingOutputCallResponse resp;
    size_t n = 0;
    while (stream->Read(&resp)) {
      if (n >= sizes.size()) Fail("StreamingOutputCall: more than 4 responses");
      ExpectZeros(resp.payload(), sizes[n], "StreamingOutputCall response " + std::to_string(n));
      ++n;
    }
    ExpectOk(stream->Finish(), "StreamingOutputCall");
    if (n != sizes.size()) {
      Fail("StreamingOutputCall: " + std::to_string(n) + " responses, expected 4");
    }
  }

  void ServerCompressedStreaming() {
    ClientContext ctx;
    SetDeadline(&ctx);
    StreamingOutputCallRequest req;
    const std::vector<std::pair<bool, int>> params = {{true, 31415}, {false, 92653}};
    for (auto [compressed, size] : params) {
      auto* p = req.add_response_parameters();
      p->mutable_compressed()->set_value(compressed);
      p->set_size(size);
    }
    auto stream = stub_->StreamingOutputCall(&ctx, req);
    StreamingOutputCallResponse resp;
    size_t n = 0;
    while (stream->Read(&resp)) {
      if (n >= params.size()) Fail("StreamingOutputCall: more than 2 responses");
      const std::string what = "StreamingOutputCall response " + std::to_string(n);
      ExpectCompressed(ctx, params[n].first, what);
      ExpectZeros(resp.payload(), params[n].second, what);
      ++n;
    }
    ExpectOk(stream->Finish(), "StreamingOutputCall");
    if (n != params.size()) {
      Fail("StreamingOutputCall: " + std::to_string(n) + " responses, expected 2");
    }
  }

  void PingPong() {
    ClientContext ctx;
    SetDeadline(&ctx);
    auto stream = stub_->FullDuplexCall(&ctx);
    const std::vector<std::pair<int, int>> rounds = {
        {31415, 27182}, {9, 8}, {2653, 1828}, {58979, 45904}};
    for (size_t i = 0; i < rounds.size(); ++i) {
      StreamingOutputCallRequest req;
      req.set_response_type(grpc::testing::COMPRESSABLE);
      req.add_response_parameters()->set_size(rounds[i].first);
      req.mutable_payload()->set_body(Zeros(rounds[i].second));
      StreamingOutputCallResponse resp;
      const std::string what = "FullDuplexCall round " + std::to_string(i);
      if (!stream->Write(req)) {
        ExpectOk(stream->Finish(), what + " write");
        Fail(what + ": write failed but the call ended OK");
      }
      if (!stream->Read(&resp)) {
        ExpectOk(stream->Finish(), what + " read");
        Fail(what + ": the call ended OK without a response");
      }
      ExpectZeros(resp.payload(), rounds[i].first, what);
    }
    stream->WritesDone();
    StreamingOutputCallResponse extra;
    if (stream->Read(&extra)) Fail("FullDuplexCall: more than 4 responses");
    ExpectOk(stream->Finish(), "FullDuplexCall");
  }

  void EmptyStream() {
    ClientContext ctx;
    SetDeadline(&ctx);
    auto stream = stub_->FullDuplexCall(&ctx);
    stream->WritesDone();
    StreamingOutputCallResponse resp;
    if (stream->Read(&resp)) Fail("FullDuplexCall: a response on an empty stream");
    ExpectOk(stream->Finish(), "FullDuplexCall");
  }

  static void AddEchoMetadata(ClientContext* ctx) {
    ctx->AddMetadata(h2rpc_interop::kEchoInitialKey, kInitialValue);
    ctx->AddMetadata(h2rpc_interop::kEchoTrailingBinKey, kTrailingBinValue);
  }

  static void CheckEchoedMetadata(const ClientContext& ctx, const std::string& what) {
    const auto& initial = ctx.GetServerInitialMetadata();
    auto it = initial.find(h2rpc_interop::kEchoInitialKey);
    if (it == initial.end()) Fail(what + ": no x-grpc-test-echo-initial in initial metadata");
    if (it->second != kInitialValue) {
      Fail(what + ": x-grpc-test-echo-initial is " + Quote(it->second));
    }
    const auto& trailing = ctx.GetServerTrailingMetadata();
    it = trailing.find(h2rpc_interop::kEchoTrailingBinKey);
    if (it == trailing.end()) {
      Fail(what + ": no x-grpc-test-echo-trailing-bin in trailing metadata");
    }
    if (it->second != kTrailingBinValue) {
      Fail(what + ": x-grpc-test-echo-trailing-bin is " + Quote(it->second));
    }
  }

  void CustomMetadata() {
    {
      ClientContext ctx;
      SetDeadline(&ctx);
      AddEchoMetadata(&ctx);
      SimpleResponse resp;
      ExpectOk(stub_->UnaryCall(&ctx, LargeRequest(), &resp), "UnaryCall");
      ExpectZeros(resp.payload(), kLargeResponseSize, "UnaryCall");
      CheckEchoedMetadata(ctx, "UnaryCall");
    }
    ClientContext ctx;
    SetDeadline(&ctx);
    AddEchoMetadata(&ctx);
    auto stream = stub_->FullDuplexCall(&ctx);
    StreamingOutputCallRequest req;
    req.set_response_type(grpc::testing::COMPRESSABLE);
    req.add_response_parameters()->set_size(kLargeResponseSize);
    req.mutable_payload()->set_body(Zeros(kLargeRequestSize));
    if (stream->Write(req)) stream->WritesDone();
    StreamingOutputCallResponse resp;
    size_t n = 0;
    while (stream->Read(&resp)) {
      ExpectZeros(resp.payload(), kLargeResponseSize, "FullDuplexCall response");
      ++n;
    }
    ExpectOk(stream->Finish(), "FullDuplexCall");
    if (n != 1) Fail("FullDuplexCall: " + std::to_string(n) + " responses, expected 1");
    CheckEchoedMetadata(ctx, "FullDuplexCall");
  }

  void CheckEchoStatus(const std::string& message, bool also_full_duplex) {
    {
      ClientContext ctx;
      SetDeadline(&ctx);
      SimpleRequest req;
      req.mutable_response_status()->set_code(2);
      req.mutable_response_status()->set_message(message);
      SimpleResponse resp;
      const Status s = stub_->UnaryCall(&ctx, req, &resp);
      ExpectCode(s, StatusCode::kUnknown, "UnaryCall");
      if (s.message() != message) {
        Fail("UnaryCall: status message " + Quote(s.message()) + ", expected " + Quote(message));
      }
    }
    if (!also_full_duplex) return;
    ClientContext ctx;
    SetDeadline(&ctx);
    auto stream = stub_->FullDuplexCall(&ctx);
    StreamingOutputCallRequest req;
    req.mutable_response_status()->set_code(2);
    req.mutable_response_status()->set_message(message);
    if (stream->Write(req)) stream->WritesDone();
    StreamingOutputCallResponse resp;
    while (stream->Read(&resp)) {
    }
    const Status s = stream->Finish();
    ExpectCode(s, StatusCode::kUnknown, "FullDuplexCall");
    if (s.message() != message) {
      Fail("FullDuplexCall: status message " + Quote(s.message()) + ", expected " + Quote(message));
    }
  }

  void StatusCodeAndMessage() { CheckEchoStatus("test status message", true); }

  void SpecialStatusMessage() {
    CheckEchoStatus(
        "\t\ntest with whitespace\r\nand Unicode BMP \xE2\x98\xBA and non-BMP \xF0\x9F\x98\x88\t\n",
        false);
  }

  void UnimplementedMethod() {
    ClientContext ctx;
    SetDeadline(&ctx);
    Empty req, resp;
    ExpectCode(stub_->UnimplementedCall(&ctx, req, &resp), StatusCode::kUnimplemented,
               "TestService/UnimplementedCall");
  }

  void UnimplementedService() {
    ClientContext ctx;
    SetDeadline(&ctx);
    Empty req, resp;
    ExpectCode(unimplemented_stub_->UnimplementedCall(&ctx, req, &resp), StatusCode::kUnimplemented,
               "UnimplementedService/UnimplementedCall");
  }

  void CancelAfterBegin() {
    ClientContext ctx;
    SetDeadline(&ctx);
    StreamingInputCallResponse resp;
    auto stream = stub_->StreamingInputCall(&ctx, &resp);
    ctx.TryCancel();
    ExpectCode(stream->Finish(), StatusCode::kCancelled, "StreamingInputCall");
  }

  void CancelAfterFirstResponse() {
    ClientContext ctx;
    SetDeadline(&ctx);
    auto stream = stub_->FullDuplexCall(&ctx);
    StreamingOutputCallRequest req;
    req.set_response_type(grpc::testing::COMPRESSABLE);
    req.add_response_parameters()->set_size(31415);
    req.mutable_payload()->set_body(Zeros(27182));
    StreamingOutputCallResponse resp;
    if (!stream->Write(req) || !stream->Read(&resp)) {
      ExpectOk(stream->Finish(), "FullDuplexCall");
      Fail("FullDuplexCall ended OK before the first response");
    }
    ExpectZeros(resp.payload(), 31415, "FullDuplexCall first response");
    ctx.TryCancel();
    ExpectCode(stream->Finish(), StatusCode::kCancelled, "FullDuplexCall");
  }

  void TimeoutOnSleepingServer() {
    ClientContext ctx;
    ctx.set_timeout(std::chrono::milliseconds(1));
    auto stream = stub_->FullDuplexCall(&ctx);
    StreamingOutputCallRequest req;
    req.mutable_payload()->set_body(Zeros(27182));
    stream->Write(req);  // may fail: the deadline may pass first
    ExpectCode(stream->Finish(), StatusCode::kDeadlineExceeded, "FullDuplexCall");
  }

  // One large unary call per iteration (on a new channel each time for channel_soak); an
  // iteration fails on a bad status or payload, or by taking longer than the latency bound.
  void Soak(bool new_channel_each) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    const auto give_up = start + std::chrono::seconds(soak_.overall_timeout_s);
    std::vector<double> latencies_ms;
    int failures = 0;
    int done = 0;
    std::string last_failure;
    for (; done < soak_.iterations && Clock::now() < give_up; ++done) {
      const auto began = Clock::now();
      std::shared_ptr<h2rpc::Channel> channel = new_channel_each ? new_channel_() : channel_;
      auto stub = grpc::testing::TestService::NewStub(channel);
      ClientContext ctx;
      ctx.set_timeout(std::chrono::duration_cast<std::chrono::milliseconds>(
          std::min<Clock::duration>(kCallDeadline, give_up - began)));
      SimpleRequest req;
      req.set_response_type(grpc::testing::COMPRESSABLE);
      req.set_response_size(soak_.response_size);
      req.mutable_payload()->set_body(Zeros(soak_.request_size));
      SimpleResponse resp;
      const Status s = stub->UnaryCall(&ctx, req, &resp);
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - began).count();
      latencies_ms.push_back(ms);
      std::string why;
      if (!s.ok()) {
        why = StatusText(s);
      } else if (resp.payload().body().size() != static_cast<size_t>(soak_.response_size)) {
        why = "payload of " + std::to_string(resp.payload().body().size()) + " bytes";
      } else if (ms > soak_.max_latency_ms) {
        char text[96];
        std::snprintf(text, sizeof text, "took %.1f ms, over the %d ms allowed", ms,
                      soak_.max_latency_ms);
        why = text;
      }
      if (!why.empty()) {
        ++failures;
        last_failure = "iteration " + std::to_string(done) + ": " + why;
        std::fprintf(stderr, "soak %s\n", last_failure.c_str());
      }
      std::this_thread::sleep_until(began + std::chrono::milliseconds(soak_.min_ms_between_rpcs));
    }
    std::sort(latencies_ms.begin(), latencies_ms.end());
    const auto at = [&](double q) {
      if (latencies_ms.empty()) return 0.0;
      return latencies_ms[std::min(
          latencies_ms.size() - 1,
          static_cast<size_t>(q * static_cast<double>(latencies_ms.size())))];
    };
    std::printf("soak: %d iterations, %d failed; latency ms p50 %.2f p90 %.2f max %.2f\n", done,
                failures, at(0.5), at(0.9), latencies_ms.empty() ? 0.0 : latencies_ms.back());
    if (done < soak_.iterations) {
      Fail("only " + std::to_string(done) + " of " + std::to_string(soak_.iterations) +
           " iterations within the overall timeout of " + std::to_string(soak_.overall_timeout_s) +
           " s");
    }
    if (failures > soak_.max_failures) {
      Fail(std::to_string(failures) + " of " + std::to_string(done) +
           " iterations failed (at most " + std::to_string(soak_.max_failures) +
           " allowed); last: " + last_failure);
    }
  }

  ChannelFactory new_channel_;
  SoakOptions soak_;
  std::shared_ptr<h2rpc::Channel> channel_;
  std::unique_ptr<grpc::testing::TestService::Stub> stub_;
  std::unique_ptr<grpc::testing::UnimplementedService::Stub> unimplemented_stub_;
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "h2rpc-interop-client: %s (usage: --server_host=H --server_port=P --test_case=NAME "
               "[--use_tls=BOOL] [--server_host_override=NAME] [--tls_ca_file=F]; "
               "--server_host=unix:PATH or unix-abstract:NAME is the whole target, no port)\n",
               why.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  // Besides its own flags, the client accepts (and ignores) the standard ones of gRPC's
  // interop clients that only matter for cloud-to-prod runs.
  h2rpc_interop::Flags flags(
      {"server_host", "server_port", "test_case", "server_host_override", "tls_ca_file",
       "default_service_account", "oauth_scope", "service_account_key_file", "service_config_json",
       "num_times", "soak_iterations", "soak_max_failures",
       "soak_per_iteration_max_acceptable_latency_ms", "soak_overall_timeout_seconds",
       "soak_min_time_ms_between_rpcs", "soak_request_size", "soak_response_size"},
      {"use_tls", "use_test_ca"});
  if (!flags.Parse(argc, argv)) Usage(flags.error());
  const std::string host = flags.Str("server_host", "localhost");
  const bool unix_socket = h2rpc_interop::IsUnixAddress(host);
  const std::optional<int> port = unix_socket ? std::optional<int>(0) : flags.Port("server_port");
  const std::string test_case = flags.Str("test_case");
  if (!unix_socket && (!port || *port == 0)) Usage("--server_port=P is required (1..65535)");
  if (test_case.empty()) Usage("--test_case=NAME is required");
  const bool use_tls = flags.Bool("use_tls", false);
  std::string target = host;
  if (!unix_socket) {
    if (target.find(':') != std::string::npos && target.front() != '[') target = "[" + target + "]";
    target += ":" + std::to_string(*port);
  }
  h2rpc::ChannelOptions options;
  options.max_receive_message_size = 64 * 1024 * 1024;  // the cases' largest message is ~300 kB
  std::shared_ptr<h2rpc::ChannelCredentials> credentials = h2rpc::InsecureChannelCredentials();
  if (use_tls) {
    // --tls_ca_file: the roots; else --use_test_ca: gRPC's interop test CA; else the system's.
    // --server_host_override: the name the server's certificate must carry.
    h2rpc::SslCredentialsOptions ssl;
    std::string ca_file = flags.Str("tls_ca_file");
    if (ca_file.empty() && flags.Bool("use_test_ca", false)) {
      ca_file = grpc_test_credentials::Find("ca.pem");
      if (ca_file.empty()) {
        std::fprintf(stderr, "%s: FAILED: --use_test_ca: gRPC's test CA (ca.pem) not found in %s\n",
                     test_case.c_str(), grpc_test_credentials::SearchedDirs().c_str());
        return 2;
      }
    }
    if (!ca_file.empty()) {
      if (h2rpc::Status s = h2rpc::ReadPemFile(ca_file, &ssl.pem_root_certs); !s.ok()) {
        std::fprintf(stderr, "%s: FAILED: %s\n", test_case.c_str(), s.message().c_str());
        return 2;
      }
    }
    credentials = h2rpc::SslCredentials(ssl);
    if (!credentials->status().ok()) {
      std::fprintf(stderr, "%s: FAILED: %s\n", test_case.c_str(),
                   credentials->status().message().c_str());
      return 2;
    }
    options.ssl_target_name_override = flags.Str("server_host_override");
  }
  // As gRPC's clients do, the override is also the :authority of every call.
  options.default_authority = flags.Str("server_host_override");
  SoakOptions soak;
  int num_times = 1;
  for (auto [name, into, least] :
       {std::tuple{"num_times", &num_times, 1},
        {"soak_iterations", &soak.iterations, 0},
        {"soak_max_failures", &soak.max_failures, 0},
        {"soak_per_iteration_max_acceptable_latency_ms", &soak.max_latency_ms, 0},
        {"soak_overall_timeout_seconds", &soak.overall_timeout_s, 0},
        {"soak_min_time_ms_between_rpcs", &soak.min_ms_between_rpcs, 0},
        {"soak_request_size", &soak.request_size, 0},
        {"soak_response_size", &soak.response_size, 0}}) {
    if (!flags.Has(name)) continue;
    const std::optional<int> v = flags.Int(name);
    if (!v || *v < least) Usage("invalid value for --" + std::string(name));
    *into = *v;
  }
  // gRPC's clients treat 0 as "no bound" for these two.
  if (soak.max_latency_ms == 0) soak.max_latency_ms = std::numeric_limits<int>::max();
  if (soak.overall_timeout_s == 0) soak.overall_timeout_s = 24 * 3600;

  InteropClient client(
      [target, credentials, options] { return h2rpc::CreateChannel(target, credentials, options); },
      soak);
  auto cases = client.Cases();
  auto it = cases.find(test_case);
  if (it == cases.end()) {
    std::fprintf(stderr, "%s: FAILED: unknown test case\n", test_case.c_str());
    return 2;
  }
  try {
    for (int i = 0; i < num_times; ++i) it->second();
  } catch (const Failure& f) {
    std::string why = f.what();
    for (char& c : why) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    std::fprintf(stderr, "%s: FAILED: %s\n", test_case.c_str(), why.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: FAILED: exception: %s\n", test_case.c_str(), e.what());
    return 1;
  }
  std::printf("%s: passed\n", test_case.c_str());
  return 0;
}
