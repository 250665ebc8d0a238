// h2rpc-interop-server: grpc.testing.TestService and grpc.testing.UnimplementedService on
// h2rpc's generated service bases, with the server features of gRPC's
// doc/interop-test-descriptions.md: EmptyCall, UnaryCall, CacheableUnaryCall,
// StreamingInputCall, StreamingOutputCall, FullDuplexCall, HalfDuplexCall, CompressedRequest,
// CompressedResponse, Echo Status, Echo Metadata, ResponseParameters.interval_us.
//
//   h2rpc-interop-server --port=N [--use_tls=false|true] [--bind=ADDR]
//       [--tls_cert_file=F --tls_key_file=F]
//
// Binds all interfaces ([::], dual-stack) unless --bind is given; --port=0 picks a free port.
// Prints {"impl":"h2rpc","event":"listening","port":N,"tls":false} on stdout once serving
// (the same line as grpcpp-interop-server), and shuts down on SIGTERM/SIGINT. A failing call
// never stops the server. --bind=unix:PATH or --bind=unix-abstract:NAME listens on a unix
// socket instead; --port is then optional and ignored (the listening line says port 0).

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "grpc/testing/test.h2rpc.h"
#include "h2rpc.h"
#include "services/reflection/reflection_service.h"
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
using h2rpc::Compression;
using h2rpc::ServerContext;
using h2rpc::Status;
using h2rpc::StatusCode;

// Echo Metadata: "x-grpc-test-echo-initial" goes back as initial metadata and
// "x-grpc-test-echo-trailing-bin" as trailing metadata, same key, same value.
void EchoMetadata(ServerContext* ctx) {
  const auto& md = ctx->client_metadata();
  if (auto it = md.find(h2rpc_interop::kEchoInitialKey); it != md.end()) {
    ctx->AddInitialMetadata(it->first, it->second);
  }
  if (auto it = md.find(h2rpc_interop::kEchoTrailingBinKey); it != md.end()) {
    ctx->AddTrailingMetadata(it->first, it->second);
  }
}

// CompressedRequest: the request just read must carry the compressed flag exactly when
// expect_compressed is true; otherwise the call fails with INVALID_ARGUMENT.
Status CheckExpectCompressed(const ServerContext& ctx, bool expected) {
  const bool was = ctx.last_message_compressed();
  if (expected && !was) {
    return Status(StatusCode::kInvalidArgument,
                  "expect_compressed is true but the request was not compressed");
  }
  if (!expected && was) {
    return Status(StatusCode::kInvalidArgument,
                  "expect_compressed is false but the request was compressed");
  }
  return Status();
}

// Echo Status: the call ends with the code and message the client asked for.
Status EchoStatus(const grpc::testing::EchoStatus& s) {
  return Status(h2rpc::StatusCodeFromInt(s.code()), s.message());
}

// A payload of `size` zero bytes of the requested type; only COMPRESSABLE is defined, anything
// else is INVALID_ARGUMENT as the UnaryCall description requires.
Status FillPayload(grpc::testing::PayloadType type, int32_t size, grpc::testing::Payload* payload) {
  if (type != grpc::testing::COMPRESSABLE) {
    return Status(StatusCode::kInvalidArgument, "unsupported response_type");
  }
  if (size < 0) return Status(StatusCode::kInvalidArgument, "negative response size");
  payload->set_type(grpc::testing::COMPRESSABLE);
  payload->set_body(std::string(static_cast<size_t>(size), '\0'));
  return Status();
}

// Per-call state of the streaming response writers: whether gzip was chosen for the call. The
// call's encoding travels in the response headers, so it can only be chosen before the first
// response; a message asking for compression later is sent uncompressed.
struct ResponseCompression {
  bool chosen = false;
  bool first_written = false;
};

// One response per ResponseParameters, in order, sleeping interval_us before each;
// `compressed` selects per-message compression (CompressedResponse).
template <class Writer>
Status WriteResponses(ServerContext* ctx, const StreamingOutputCallRequest& request,
                      ResponseCompression* compression, Writer* writer) {
  if (!compression->first_written) {
    for (const auto& params : request.response_parameters()) {
      if (params.has_compressed() && params.compressed().value()) {
        ctx->set_compression_algorithm(Compression::kGzip);
        compression->chosen = true;
        break;
      }
    }
  }
  for (const auto& params : request.response_parameters()) {
    StreamingOutputCallResponse response;
    if (Status s = FillPayload(request.response_type(), params.size(), response.mutable_payload());
        !s.ok()) {
      return s;
    }
    h2rpc::WriteOptions options;
    options.no_compression = !(params.has_compressed() && params.compressed().value());
    if (params.interval_us() > 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(params.interval_us()));
    }
    if (!writer->Write(response, options)) {
      return Status(StatusCode::kCancelled, "the call ended while writing a response");
    }
    compression->first_written = true;
  }
  return Status();
}

class TestServiceImpl final : public grpc::testing::TestService::Service {
 public:
  Status EmptyCall(ServerContext* ctx, const Empty*, Empty*) override {
    EchoMetadata(ctx);
    return Status();
  }

  Status UnaryCall(ServerContext* ctx, const SimpleRequest* request,
                   SimpleResponse* response) override {
    EchoMetadata(ctx);
    if (request->has_expect_compressed()) {
      if (Status s = CheckExpectCompressed(*ctx, request->expect_compressed().value()); !s.ok()) {
        return s;
      }
    }
    if (request->has_response_status()) return EchoStatus(request->response_status());
    if (request->has_response_compressed()) {
      ctx->set_compression_algorithm(
          request->response_compressed().value() ? Compression::kGzip : Compression::kIdentity);
    }
    return FillPayload(request->response_type(), request->response_size(),
                       response->mutable_payload());
  }

  Status CacheableUnaryCall(ServerContext* ctx, const SimpleRequest*,
                            SimpleResponse* response) override {
    EchoMetadata(ctx);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    response->mutable_payload()->set_type(grpc::testing::COMPRESSABLE);
    response->mutable_payload()->set_body(std::to_string(ns));
    ctx->AddInitialMetadata("cache-control", "max-age=60, public");
    return Status();
  }

  Status StreamingOutputCall(ServerContext* ctx, const StreamingOutputCallRequest* request,
                             h2rpc::ServerWriter<StreamingOutputCallResponse>* writer) override {
    EchoMetadata(ctx);
    if (request->has_response_status()) return EchoStatus(request->response_status());
    ResponseCompression compression;
    return WriteResponses(ctx, *request, &compression, writer);
  }

  Status StreamingInputCall(ServerContext* ctx,
                            h2rpc::ServerReader<StreamingInputCallRequest>* reader,
                            StreamingInputCallResponse* response) override {
    EchoMetadata(ctx);
    StreamingInputCallRequest request;
    int64_t total = 0;
    while (reader->Read(&request)) {
      if (request.has_expect_compressed()) {
        if (Status s = CheckExpectCompressed(*ctx, request.expect_compressed().value()); !s.ok()) {
          return s;
        }
      }
      total += static_cast<int64_t>(request.payload().body().size());
    }
    response->set_aggregated_payload_size(static_cast<int32_t>(total));
    return Status();
  }

  Status FullDuplexCall(ServerContext* ctx,
                        h2rpc::ServerReaderWriter<StreamingOutputCallResponse,
                                                  StreamingOutputCallRequest>* stream) override {
    EchoMetadata(ctx);
    ResponseCompression compression;
    StreamingOutputCallRequest request;
    while (stream->Read(&request)) {
      // Echo Status: close with it and process nothing further.
      if (request.has_response_status()) return EchoStatus(request.response_status());
      if (Status s = WriteResponses(ctx, request, &compression, stream); !s.ok()) return s;
    }
    return Status();
  }

  Status HalfDuplexCall(ServerContext* ctx,
                        h2rpc::ServerReaderWriter<StreamingOutputCallResponse,
                                                  StreamingOutputCallRequest>* stream) override {
    EchoMetadata(ctx);
    std::vector<StreamingOutputCallRequest> requests;
    StreamingOutputCallRequest request;
    while (stream->Read(&request)) requests.push_back(request);
    ResponseCompression compression;
    for (const auto& r : requests) {
      if (r.has_response_status()) return EchoStatus(r.response_status());
      if (Status s = WriteResponses(ctx, r, &compression, stream); !s.ok()) return s;
    }
    return Status();
  }
  // UnimplementedCall is deliberately left to the generated base: UNIMPLEMENTED.
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "h2rpc-interop-server: %s (usage: --port=N [--use_tls=false|true] [--bind=ADDR] "
               "[--tls_cert_file=F --tls_key_file=F]; --bind=unix:PATH or "
               "--bind=unix-abstract:NAME listens there, --port then optional and ignored)\n",
               why.c_str());
  std::exit(2);
}

// "host" + port → "host:port", bracketing a bare IPv6 literal. A unix address is used as is.
std::string JoinHostPort(std::string host, int port) {
  if (h2rpc_interop::IsUnixAddress(host)) return host;
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  return host + ":" + std::to_string(port);
}

}  // namespace

int main(int argc, char** argv) {
  h2rpc_interop::Flags flags({"port", "bind", "tls_cert_file", "tls_key_file"}, {"use_tls"});
  if (!flags.Parse(argc, argv)) Usage(flags.error());
  const bool unix_socket = h2rpc_interop::IsUnixAddress(flags.Str("bind"));
  const std::optional<int> port = unix_socket ? std::optional<int>(0) : flags.Port("port");
  if (!port) Usage("--port=N is required (0..65535; 0 picks a free port)");
  const bool use_tls = flags.Bool("use_tls", false);
  std::shared_ptr<h2rpc::ServerCredentials> credentials = h2rpc::InsecureServerCredentials();
  if (use_tls) {
    // Without certificate flags, gRPC's interop test pair, as every interop server does.
    std::string why;
    const auto [cert_file, key_file] = grpc_test_credentials::ServerPair(
        flags.Str("tls_cert_file"), flags.Str("tls_key_file"), &why);
    if (cert_file.empty()) Usage(why);
    h2rpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.emplace_back();
    h2rpc::Status s = h2rpc::ReadPemFile(cert_file, &ssl.pem_key_cert_pairs[0].cert_chain);
    if (s.ok()) s = h2rpc::ReadPemFile(key_file, &ssl.pem_key_cert_pairs[0].private_key);
    if (s.ok()) {
      credentials = h2rpc::SslServerCredentials(ssl);
      s = credentials->status();
    }
    if (!s.ok()) {
      std::fprintf(stderr, "h2rpc-interop-server: %s\n", s.message().c_str());
      return 1;
    }
  }

  // Signals are taken synchronously by main (sigwait); every other thread blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  TestServiceImpl test_service;
  // Registered without overrides: its one method answers UNIMPLEMENTED.
  grpc::testing::UnimplementedService::Service unimplemented_service;
  // Lets clients without the .proto files (buf curl in scripts/test.d/43-interop-buf.sh) in.
  h2rpc::ReflectionService reflection;
  // All interfaces by default: [::] (dual-stack), or 0.0.0.0 on a host without IPv6.
  std::vector<std::string> binds = {flags.Str("bind")};
  if (!flags.Has("bind")) binds = {"::", "0.0.0.0"};
  std::unique_ptr<h2rpc::Server> server;
  int selected_port = 0;
  std::string failures;
  for (const std::string& bind : binds) {
    const std::string address = JoinHostPort(bind, *port);
    h2rpc::ServerBuilder builder;
    builder.AddListeningPort(address, credentials, &selected_port);
    builder.RegisterService(&test_service);
    builder.RegisterService(&unimplemented_service);
    builder.RegisterService(reflection.service());
    server = builder.BuildAndStart();
    if (server && (selected_port != 0 || unix_socket)) break;  // a unix socket has no port
    server.reset();
    failures += (failures.empty() ? "" : "; ") + address + ": " + builder.error().ToString();
  }
  if (!server) {
    std::fprintf(stderr, "h2rpc-interop-server: cannot listen on %s\n", failures.c_str());
    return 1;
  }
  std::printf("{\"impl\":\"h2rpc\",\"event\":\"listening\",\"port\":%d,\"tls\":%s}\n",
              selected_port, use_tls ? "true" : "false");
  std::fflush(stdout);

  int signal_number = 0;
  while (sigwait(&signals, &signal_number) != 0) {
  }
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
