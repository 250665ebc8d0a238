// grpcpp-interop-server: grpc.testing.TestService (and UnimplementedService)
// on grpc++ with the server features of gRPC's interop test descriptions
// (doc/interop-test-descriptions.md): EmptyCall, UnaryCall, CacheableUnaryCall,
// StreamingInputCall, StreamingOutputCall, FullDuplexCall, HalfDuplexCall,
// CompressedRequest / CompressedResponse, Echo Status, Echo Metadata,
// ResponseParameters.interval_us.
//
//   grpcpp-interop-server --port=N [--use_tls=false|true] [--bind=ADDR]
//       [--tls_cert_file=F --tls_key_file=F]
//
// Binds 0.0.0.0 unless --bind is given; --port=0 picks a free port. Prints
// {"impl":"grpcpp","event":"listening","port":N} on stdout when serving, and
// shuts down cleanly on SIGTERM/SIGINT.

#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../../tests/interop/grpc_test_credentials.h"
#include "common.h"
#include "grpc/testing/test.grpc.pb.h"
#include "interop_common.h"

namespace {

using grpc::ServerContext;
using grpc::Status;
using grpc::StatusCode;
using grpc::testing::Empty;
using grpc::testing::SimpleRequest;
using grpc::testing::SimpleResponse;
using grpc::testing::StreamingInputCallRequest;
using grpc::testing::StreamingInputCallResponse;
using grpc::testing::StreamingOutputCallRequest;
using grpc::testing::StreamingOutputCallResponse;

// Echo Metadata: x-grpc-test-echo-initial back as initial metadata,
// x-grpc-test-echo-trailing-bin back as trailing metadata.
void EchoMetadata(ServerContext* ctx) {
  const auto& md = ctx->client_metadata();
  if (auto it = md.find(peers::kEchoInitialKey); it != md.end()) {
    ctx->AddInitialMetadata(peers::kEchoInitialKey,
                            std::string(it->second.data(), it->second.size()));
  }
  if (auto it = md.find(peers::kEchoTrailingBinKey); it != md.end()) {
    ctx->AddTrailingMetadata(peers::kEchoTrailingBinKey,
                             std::string(it->second.data(), it->second.size()));
  }
}

// CompressedRequest: checks the last received message against
// expect_compressed. Returns a non-OK status when the expectation is not met.
Status CheckCompression(ServerContext* ctx, bool expected) {
  const bool was = peers::LastMessageWasCompressed(ctx->c_call());
  if (expected) {
    if (peers::IncomingCompression(ctx->c_call()) == GRPC_COMPRESS_NONE || !was) {
      return Status(StatusCode::INVALID_ARGUMENT,
                    "expect_compressed is true but the request was not compressed");
    }
  } else if (was) {
    return Status(StatusCode::INVALID_ARGUMENT,
                  "expect_compressed is false but the request was compressed");
  }
  return Status::OK;
}

// Fills a COMPRESSABLE payload of `size` zero bytes.
Status FillPayload(grpc::testing::PayloadType type, int size, grpc::testing::Payload* payload) {
  if (type != grpc::testing::COMPRESSABLE) {
    return Status(StatusCode::INVALID_ARGUMENT, "unsupported response_type");
  }
  if (size < 0) return Status(StatusCode::INVALID_ARGUMENT, "negative response size");
  payload->set_type(grpc::testing::COMPRESSABLE);
  payload->set_body(std::string(static_cast<size_t>(size), '\0'));
  return Status::OK;
}

Status EchoStatus(const grpc::testing::EchoStatus& s) {
  return Status(static_cast<StatusCode>(s.code()), s.message());
}

// Writes one response per ResponseParameters (interval_us sleeps before each;
// `compressed` selects per-message compression). Returns false when a write
// failed (client gone).
template <typename Writer>
Status WriteResponses(ServerContext* ctx, const StreamingOutputCallRequest& request,
                      Writer* writer) {
  StreamingOutputCallResponse response;
  for (const auto& params : request.response_parameters()) {
    if (Status s = FillPayload(request.response_type(), params.size(), response.mutable_payload());
        !s.ok()) {
      return s;
    }
    grpc::WriteOptions options;
    if (params.has_compressed()) {
      // Compression is enabled for the call (it must be chosen before the
      // first message goes out) and switched off per message where asked.
      ctx->set_compression_level(GRPC_COMPRESS_LEVEL_HIGH);
      if (!params.compressed().value()) options.set_no_compression();
    }
    if (params.interval_us() > 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(params.interval_us()));
    }
    if (!writer->Write(response, options)) {
      return Status(StatusCode::INTERNAL, "writing a response failed");
    }
  }
  return Status::OK;
}

class TestServiceImpl final : public grpc::testing::TestService::Service {
 public:
  Status EmptyCall(ServerContext* ctx, const Empty*, Empty*) override {
    EchoMetadata(ctx);
    return Status::OK;
  }

  Status UnaryCall(ServerContext* ctx, const SimpleRequest* request,
                   SimpleResponse* response) override {
    EchoMetadata(ctx);
    if (request->has_response_compressed()) {
      ctx->set_compression_level(request->response_compressed().value() ? GRPC_COMPRESS_LEVEL_HIGH
                                                                        : GRPC_COMPRESS_LEVEL_NONE);
    }
    if (request->has_expect_compressed()) {
      if (Status s = CheckCompression(ctx, request->expect_compressed().value()); !s.ok()) {
        return s;
      }
    }
    if (request->has_response_status()) return EchoStatus(request->response_status());
    if (Status s = FillPayload(request->response_type(), request->response_size(),
                               response->mutable_payload());
        !s.ok()) {
      return s;
    }
    return Status::OK;
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
    return Status::OK;
  }

  Status StreamingOutputCall(ServerContext* ctx, const StreamingOutputCallRequest* request,
                             grpc::ServerWriter<StreamingOutputCallResponse>* writer) override {
    EchoMetadata(ctx);
    if (request->has_response_status()) return EchoStatus(request->response_status());
    return WriteResponses(ctx, *request, writer);
  }

  Status StreamingInputCall(ServerContext* ctx,
                            grpc::ServerReader<StreamingInputCallRequest>* reader,
                            StreamingInputCallResponse* response) override {
    EchoMetadata(ctx);
    StreamingInputCallRequest request;
    int64_t total = 0;
    while (reader->Read(&request)) {
      if (request.has_expect_compressed()) {
        if (Status s = CheckCompression(ctx, request.expect_compressed().value()); !s.ok()) {
          return s;
        }
      }
      total += static_cast<int64_t>(request.payload().body().size());
    }
    response->set_aggregated_payload_size(static_cast<int32_t>(total));
    return Status::OK;
  }

  Status FullDuplexCall(ServerContext* ctx,
                        grpc::ServerReaderWriter<StreamingOutputCallResponse,
                                                 StreamingOutputCallRequest>* stream) override {
    EchoMetadata(ctx);
    StreamingOutputCallRequest request;
    while (stream->Read(&request)) {
      // Echo Status: close with it and process nothing further.
      if (request.has_response_status()) return EchoStatus(request.response_status());
      if (Status s = WriteResponses(ctx, request, stream); !s.ok()) return s;
    }
    return Status::OK;
  }

  Status HalfDuplexCall(ServerContext* ctx,
                        grpc::ServerReaderWriter<StreamingOutputCallResponse,
                                                 StreamingOutputCallRequest>* stream) override {
    EchoMetadata(ctx);
    std::vector<StreamingOutputCallRequest> requests;
    StreamingOutputCallRequest request;
    while (stream->Read(&request)) requests.push_back(request);
    for (const auto& r : requests) {
      if (r.has_response_status()) return EchoStatus(r.response_status());
      if (Status s = WriteResponses(ctx, r, stream); !s.ok()) return s;
    }
    return Status::OK;
  }
  // UnimplementedCall is deliberately not overridden: UNIMPLEMENTED.
};

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "grpcpp-interop-server: %s\n"
               "usage: grpcpp-interop-server --port=N [--use_tls=false|true] [--bind=ADDR]\n"
               "       [--tls_cert_file=F --tls_key_file=F]\n",
               why.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  peers::Flags flags({"port", "bind", "tls_cert_file", "tls_key_file"}, {"use_tls"});
  if (!flags.Parse(argc, argv)) Usage(flags.error());
  const std::string bind = flags.Str("bind", "0.0.0.0");
  const bool unix_socket = peers::IsUnixAddress(bind);  // --port is then optional and ignored
  if (!flags.Has("port") && !unix_socket) Usage("--port is required (0 picks a free port)");
  const long long port = unix_socket ? 0 : flags.Int("port", 0);
  if (port < 0 || port > 65535) Usage("--port out of range");
  const bool use_tls = flags.Bool("use_tls", false);

  std::shared_ptr<grpc::ServerCredentials> creds;
  if (use_tls) {
    std::string cert, key;
    // Without certificate flags, gRPC's interop test pair, as every interop server does.
    std::string why;
    const auto [cert_file, key_file] = grpc_test_credentials::ServerPair(
        flags.Str("tls_cert_file"), flags.Str("tls_key_file"), &why);
    if (cert_file.empty()) Usage(why);
    if (!ReadFile(cert_file, &cert)) Usage("cannot read " + cert_file);
    if (!ReadFile(key_file, &key)) Usage("cannot read " + key_file);
    grpc::SslServerCredentialsOptions options;
    options.pem_key_cert_pairs.push_back({key, cert});
    creds = grpc::SslServerCredentials(options);
  } else {
    creds = grpc::InsecureServerCredentials();
  }

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  TestServiceImpl test_service;
  // Registered with no overrides: its one method answers UNIMPLEMENTED.
  grpc::testing::UnimplementedService::Service unimplemented_service;
  grpc::ServerBuilder builder;
  int selected_port = 0;
  const std::string addr = peers::JoinHostPort(bind, port);
  builder.AddListeningPort(addr, creds, &selected_port);
  builder.RegisterService(&test_service);
  builder.RegisterService(&unimplemented_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || selected_port == 0) {
    std::fprintf(stderr, "grpcpp-interop-server: cannot listen on %s\n", addr.c_str());
    return 1;
  }
  std::printf("{\"impl\":\"grpcpp\",\"event\":\"listening\",\"port\":%d,\"tls\":%s}\n",
              selected_port, use_tls ? "true" : "false");
  std::fflush(stdout);

  int sig = 0;
  while (sigwait(&sigs, &sig) != 0) {
  }
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Wait();
  return 0;
}
