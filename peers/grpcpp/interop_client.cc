// grpcpp-interop-client: gRPC interop test cases (doc/interop-test-descriptions.md)
// on grpc++, one case per invocation.
//
//   grpcpp-interop-client --server_host=H --server_port=P --test_case=NAME
//       [--use_tls=false|true] [--server_host_override=NAME] [--tls_ca_file=F]
//
// Flags accept both "--flag=value" and "--flag value". Exit 0 on pass (one
// "NAME: passed" line on stdout); otherwise non-zero with one line on stderr.
// grpc's own logging is silenced unless GRPC_VERBOSITY is set, so that the
// failure reason stays a single line.

#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "../../tests/interop/grpc_test_credentials.h"
#include "common.h"
#include "grpc/testing/test.grpc.pb.h"
#include "interop_common.h"

namespace {

using grpc::ClientContext;
using grpc::Status;
using grpc::StatusCode;
using grpc::testing::Empty;
using grpc::testing::SimpleRequest;
using grpc::testing::SimpleResponse;
using grpc::testing::StreamingInputCallRequest;
using grpc::testing::StreamingInputCallResponse;
using grpc::testing::StreamingOutputCallRequest;
using grpc::testing::StreamingOutputCallResponse;

constexpr int kLargeRequestSize = 271828;
constexpr int kLargeResponseSize = 314159;
const char kInitialValue[] = "test_initial_metadata_value";
const char kTrailingBinValue[] = "\xab\xab\xab";

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void Fail(const std::string& why) { throw Failure(why); }

std::string StatusText(const Status& s) {
  return "status " + std::to_string(static_cast<int>(s.error_code())) + " \"" + s.error_message() +
         "\"";
}

void ExpectOk(const Status& s, const std::string& what) {
  if (!s.ok()) Fail(what + " failed: " + StatusText(s));
}

void ExpectCode(const Status& s, StatusCode code, const std::string& what) {
  if (s.error_code() != code) {
    Fail(what + ": expected status " + std::to_string(static_cast<int>(code)) + ", got " +
         StatusText(s));
  }
}

void ExpectZeros(const grpc::testing::Payload& p, size_t size, const std::string& what) {
  if (p.body().size() != size) {
    Fail(what + ": payload of " + std::to_string(p.body().size()) + " bytes, expected " +
         std::to_string(size));
  }
  if (p.body().find_first_not_of('\0') != std::string::npos) {
    Fail(what + ": payload body is not all zeros");
  }
}

void ExpectCompressed(ClientContext* ctx, bool expected, const std::string& what) {
  const bool was = peers::LastMessageWasCompressed(ctx->c_call());
  if (was != expected) {
    Fail(what + (expected ? ": response was not compressed" : ": response was compressed"));
  }
}

std::string Zeros(int n) { return std::string(static_cast<size_t>(n), '\0'); }

class InteropClient {
 public:
  explicit InteropClient(std::shared_ptr<grpc::Channel> channel)
      : channel_(channel),
        stub_(grpc::testing::TestService::NewStub(channel)),
        unimplemented_stub_(grpc::testing::UnimplementedService::NewStub(channel)) {}

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
    };
  }

 private:
  // Every call gets a generous deadline so that a broken server fails the
  // case instead of hanging it.
  static void SetDeadline(ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  }

  static SimpleRequest LargeRequest() {
    SimpleRequest req;
    req.set_response_type(grpc::testing::COMPRESSABLE);
    req.set_response_size(kLargeResponseSize);
    req.mutable_payload()->set_body(Zeros(kLargeRequestSize));
    return req;
  }

  void EmptyUnary() {
    ClientContext ctx;
    SetDeadline(&ctx);
    Empty req, resp;
    ExpectOk(stub_->EmptyCall(&ctx, req, &resp), "EmptyCall");
  }

  void LargeUnary() {
    ClientContext ctx;
    SetDeadline(&ctx);
    SimpleResponse resp;
    ExpectOk(stub_->UnaryCall(&ctx, LargeRequest(), &resp), "UnaryCall");
    ExpectZeros(resp.payload(), kLargeResponseSize, "UnaryCall");
  }

  void ClientCompressedUnary() {
    {  // 1. probe: uncompressed message that claims to be compressed
      ClientContext ctx;
      SetDeadline(&ctx);
      SimpleRequest req = LargeRequest();
      req.mutable_expect_compressed()->set_value(true);
      SimpleResponse resp;
      ExpectCode(stub_->UnaryCall(&ctx, req, &resp), StatusCode::INVALID_ARGUMENT,
                 "probe (uncompressed, expect_compressed=true)");
    }
    {  // 2. compressed message
      ClientContext ctx;
      SetDeadline(&ctx);
      ctx.set_compression_algorithm(GRPC_COMPRESS_GZIP);
      SimpleRequest req = LargeRequest();
      req.mutable_expect_compressed()->set_value(true);
      SimpleResponse resp;
      ExpectOk(stub_->UnaryCall(&ctx, req, &resp), "compressed UnaryCall");
      ExpectZeros(resp.payload(), kLargeResponseSize, "compressed UnaryCall");
    }
    {  // 3. uncompressed message
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
      ExpectCompressed(&ctx, compressed, what);
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
      if (!stream->Write(req)) break;  // Finish() reports why
    }
    stream->WritesDone();
    ExpectOk(stream->Finish(), "StreamingInputCall");
    if (resp.aggregated_payload_size() != 74922) {
      Fail("aggregated_payload_size " + std::to_string(resp.aggregated_payload_size()) +
           ", expected 74922");
    }
  }

  void ClientCompressedStreaming() {
    {  // probe: one uncompressed message with expect_compressed=true
      ClientContext ctx;
      SetDeadline(&ctx);
      StreamingInputCallResponse resp;
      auto stream = stub_->StreamingInputCall(&ctx, &resp);
      StreamingInputCallRequest req;
      req.mutable_expect_compressed()->set_value(true);
      req.mutable_payload()->set_body(Zeros(27182));
      if (stream->Write(req)) stream->WritesDone();
      ExpectCode(stream->Finish(), StatusCode::INVALID_ARGUMENT,
                 "probe (uncompressed, expect_compressed=true)");
    }
    ClientContext ctx;
    SetDeadline(&ctx);
    ctx.set_compression_algorithm(GRPC_COMPRESS_GZIP);
    StreamingInputCallResponse resp;
    auto stream = stub_->StreamingInputCall(&ctx, &resp);
    StreamingInputCallRequest req;
    req.mutable_expect_compressed()->set_value(true);
    req.mutable_payload()->set_body(Zeros(27182));
    bool ok = stream->Write(req);  // compressed (call-level gzip)
    if (ok) {
      req.mutable_expect_compressed()->set_value(false);
      req.mutable_payload()->set_body(Zeros(45904));
      ok = stream->Write(req, grpc::WriteOptions().set_no_compression());
    }
    if (ok) stream->WritesDone();
    ExpectOk(stream->Finish(), "compressed StreamingInputCall");
    if (resp.aggregated_payload_size() != 73086) {
      Fail("aggregated_payload_size " + std::to_string(resp.aggregated_payload_size()) +
           ", expected 73086");
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
      if (n >= sizes.size()) Fail("more than " + std::to_string(sizes.size()) + " responses");
      ExpectZeros(resp.payload(), static_cast<size_t>(sizes[n]), "response " + std::to_string(n));
      ++n;
    }
    ExpectOk(stream->Finish(), "StreamingOutputCall");
    if (n != sizes.size()) Fail("got " + std::to_string(n) + " responses, expected 4");
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
      if (n >= params.size()) Fail("more than 2 responses");
      const std::string what = "response " + std::to_string(n);
      ExpectCompressed(&ctx, params[n].first, what);
      ExpectZeros(resp.payload(), static_cast<size_t>(params[n].second), what);
      ++n;
    }
    ExpectOk(stream->Finish(), "StreamingOutputCall");
    if (n != params.size()) Fail("got " + std::to_string(n) + " responses, expected 2");
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
      if (!stream->Write(req) || !stream->Read(&resp)) {
        ExpectOk(stream->Finish(), "FullDuplexCall round " + std::to_string(i));
        Fail("FullDuplexCall ended OK after " + std::to_string(i) + " responses");
      }
      ExpectZeros(resp.payload(), static_cast<size_t>(rounds[i].first),
                  "response " + std::to_string(i));
    }
    stream->WritesDone();
    StreamingOutputCallResponse extra;
    if (stream->Read(&extra)) Fail("more than 4 responses");
    ExpectOk(stream->Finish(), "FullDuplexCall");
  }

  void EmptyStream() {
    ClientContext ctx;
    SetDeadline(&ctx);
    auto stream = stub_->FullDuplexCall(&ctx);
    stream->WritesDone();
    StreamingOutputCallResponse resp;
    if (stream->Read(&resp)) Fail("received a response on an empty stream");
    ExpectOk(stream->Finish(), "FullDuplexCall");
  }

  static void AddEchoMetadata(ClientContext* ctx) {
    ctx->AddMetadata(peers::kEchoInitialKey, kInitialValue);
    ctx->AddMetadata(peers::kEchoTrailingBinKey, std::string(kTrailingBinValue, 3));
  }

  static void CheckEchoedMetadata(ClientContext* ctx, const std::string& what) {
    const auto& initial = ctx->GetServerInitialMetadata();
    auto it = initial.find(peers::kEchoInitialKey);
    if (it == initial.end()) Fail(what + ": no x-grpc-test-echo-initial in initial metadata");
    if (std::string(it->second.data(), it->second.size()) != kInitialValue) {
      Fail(what + ": wrong x-grpc-test-echo-initial value");
    }
    const auto& trailing = ctx->GetServerTrailingMetadata();
    it = trailing.find(peers::kEchoTrailingBinKey);
    if (it == trailing.end())
      Fail(what + ": no x-grpc-test-echo-trailing-bin in trailing metadata");
    if (std::string(it->second.data(), it->second.size()) != std::string(kTrailingBinValue, 3)) {
      Fail(what + ": wrong x-grpc-test-echo-trailing-bin value");
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
      CheckEchoedMetadata(&ctx, "UnaryCall");
    }
    ClientContext ctx;
    SetDeadline(&ctx);
    AddEchoMetadata(&ctx);
    auto stream = stub_->FullDuplexCall(&ctx);
    StreamingOutputCallRequest req;
    req.set_response_type(grpc::testing::COMPRESSABLE);
    req.add_response_parameters()->set_size(kLargeResponseSize);
    req.mutable_payload()->set_body(Zeros(kLargeRequestSize));
    StreamingOutputCallResponse resp;
    if (stream->Write(req)) stream->WritesDone();
    size_t n = 0;
    while (stream->Read(&resp)) {
      ExpectZeros(resp.payload(), kLargeResponseSize, "FullDuplexCall response");
      ++n;
    }
    ExpectOk(stream->Finish(), "FullDuplexCall");
    if (n != 1) Fail("FullDuplexCall: " + std::to_string(n) + " responses, expected 1");
    CheckEchoedMetadata(&ctx, "FullDuplexCall");
  }

  void CheckEchoStatus(const std::string& message, bool also_full_duplex) {
    {
      ClientContext ctx;
      SetDeadline(&ctx);
      SimpleRequest req;
      req.mutable_response_status()->set_code(2);
      req.mutable_response_status()->set_message(message);
      SimpleResponse resp;
      Status s = stub_->UnaryCall(&ctx, req, &resp);
      ExpectCode(s, StatusCode::UNKNOWN, "UnaryCall");
      if (s.error_message() != message) {
        Fail("UnaryCall: status message " + peers::JsonString(s.error_message()) + ", expected " +
             peers::JsonString(message));
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
    Status s = stream->Finish();
    ExpectCode(s, StatusCode::UNKNOWN, "FullDuplexCall");
    if (s.error_message() != message) {
      Fail("FullDuplexCall: status message " + peers::JsonString(s.error_message()) +
           ", expected " + peers::JsonString(message));
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
    ExpectCode(stub_->UnimplementedCall(&ctx, req, &resp), StatusCode::UNIMPLEMENTED,
               "TestService/UnimplementedCall");
  }

  void UnimplementedService() {
    ClientContext ctx;
    SetDeadline(&ctx);
    Empty req, resp;
    ExpectCode(unimplemented_stub_->UnimplementedCall(&ctx, req, &resp), StatusCode::UNIMPLEMENTED,
               "UnimplementedService/UnimplementedCall");
  }

  void CancelAfterBegin() {
    ClientContext ctx;
    SetDeadline(&ctx);
    StreamingInputCallResponse resp;
    auto stream = stub_->StreamingInputCall(&ctx, &resp);
    ctx.TryCancel();
    ExpectCode(stream->Finish(), StatusCode::CANCELLED, "StreamingInputCall");
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
    ExpectZeros(resp.payload(), 31415, "first response");
    ctx.TryCancel();
    ExpectCode(stream->Finish(), StatusCode::CANCELLED, "FullDuplexCall");
  }

  void TimeoutOnSleepingServer() {
    ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1));
    auto stream = stub_->FullDuplexCall(&ctx);
    StreamingOutputCallRequest req;
    req.mutable_payload()->set_body(Zeros(27182));
    stream->Write(req);  // may fail: the deadline can pass first
    ExpectCode(stream->Finish(), StatusCode::DEADLINE_EXCEEDED, "FullDuplexCall");
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::testing::TestService::Stub> stub_;
  std::unique_ptr<grpc::testing::UnimplementedService::Stub> unimplemented_stub_;
};

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

void SilentLog(gpr_log_func_args*) {}

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "grpcpp-interop-client: %s (usage: --server_host=H --server_port=P "
               "--test_case=NAME [--use_tls=BOOL] [--server_host_override=NAME] "
               "[--tls_ca_file=F])\n",
               why.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  peers::Flags flags(
      {"server_host", "server_port", "test_case", "server_host_override", "tls_ca_file",
       "default_service_account", "oauth_scope", "service_account_key_file"},
      {"use_tls", "use_test_ca"});
  if (!flags.Parse(argc, argv)) Usage(flags.error());
  if (std::getenv("GRPC_VERBOSITY") == nullptr) gpr_set_log_function(SilentLog);

  const std::string host = flags.Str("server_host", "localhost");
  const long long port = flags.Int("server_port", 0);
  const std::string test_case = flags.Str("test_case");
  const bool use_tls = flags.Bool("use_tls", false);
  const std::string host_override = flags.Str("server_host_override");
  // A unix --server_host is the whole target; the port is then not needed.
  if (!peers::IsUnixAddress(host) && (port <= 0 || port > 65535)) {
    Usage("--server_port is required");
  }
  if (test_case.empty()) Usage("--test_case is required");

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (use_tls) {
    grpc::SslCredentialsOptions options;
    if (flags.Has("tls_ca_file")) {
      if (!ReadFile(flags.Str("tls_ca_file"), &options.pem_root_certs)) {
        Usage("cannot read --tls_ca_file " + flags.Str("tls_ca_file"));
      }
    } else if (flags.Bool("use_test_ca", false)) {
      const std::string ca = grpc_test_credentials::Find("ca.pem");
      if (ca.empty() || !ReadFile(ca, &options.pem_root_certs)) {
        Usage("--use_test_ca: gRPC's test CA (ca.pem) not found in " +
              grpc_test_credentials::SearchedDirs());
      }
    }
    creds = grpc::SslCredentials(options);
    if (!host_override.empty()) args.SetSslTargetNameOverride(host_override);
  } else {
    creds = grpc::InsecureChannelCredentials();
    if (!host_override.empty()) args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, host_override);
  }
  auto channel = grpc::CreateCustomChannel(peers::JoinHostPort(host, port), creds, args);

  InteropClient client(channel);
  auto cases = client.Cases();
  auto it = cases.find(test_case);
  if (it == cases.end()) {
    std::fprintf(stderr, "grpcpp-interop-client: unknown test case '%s'\n", test_case.c_str());
    return 2;
  }
  try {
    it->second();
  } catch (const Failure& f) {
    std::string why = f.what();
    for (char& c : why) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    std::fprintf(stderr, "%s: FAILED: %s\n", test_case.c_str(), why.c_str());
    return 1;
  }
  std::printf("%s: passed\n", test_case.c_str());
  return 0;
}
