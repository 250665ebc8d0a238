// Fuzzes a whole running h2rpc server over a real loopback connection: transport (the nghttp2
// server session, stream bookkeeping, flow control, deadlines) and rpc (routing, deframing,
// decompression, metadata, handler threads), not just the codec.
//
// Each input is a script of HTTP/2 frames that the harness assembles after the client preface:
// HEADERS blocks encoded with a real HPACK encoder (so the fuzzer reaches request validation
// instead of dying in HPACK), gRPC-framed DATA (plain, gzip, or with a lying length prefix), and
// RST_STREAM, WINDOW_UPDATE, SETTINGS, PING, PRIORITY, GOAWAY and raw frames of any type. The
// harness then half-closes the socket and reads until the server closes the connection.
//
// Failures: any sanitizer report in the server's threads, and a server that keeps the
// connection open 5 s after the client's end of stream (a hang).
//
// Built twice: fuzz_server speaks plaintext HTTP/2; fuzz_server_tls (FUZZ_SERVER_TLS) plays the
// same scripts inside TLS, the input's first byte choosing the record size, the TLS version, the
// ALPN offer and how the client ends (tls_wire.h).
#include <arpa/inet.h>
#include <google/protobuf/wrappers.pb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "h2_script.h"
#include "h2rpc.h"
#ifdef FUZZ_SERVER_TLS
#include "tls_wire.h"
#endif

namespace {

using fuzz_h2::AppendFrame;
using fuzz_h2::Be32;
using fuzz_h2::Field;
using fuzz_h2::HpackEncoder;
using fuzz_h2::Input;
using fuzz_h2::Pick;
using fuzz_h2::SendAll;
using google::protobuf::BytesValue;

constexpr std::chrono::seconds kCloseTimeout{5};
constexpr std::chrono::milliseconds kAnswerTimeout{2000};
constexpr size_t kMaxReceiveMessage = 1024;

// ---- The server under test: every kind of call, typed and over raw bytes. ----

class TypedEcho : public h2rpc::Service {
 public:
  TypedEcho() {
    AddUnaryMethod<BytesValue, BytesValue>(
        "/fuzz.Typed/Unary",
        [](h2rpc::ServerContext* context, const BytesValue* request, BytesValue* response) {
          context->AddTrailingMetadata("x-length", std::to_string(request->value().size()));
          response->set_value(request->value());
          return h2rpc::Status();
        });
    AddBidiStreamingMethod<BytesValue, BytesValue>(
        "/fuzz.Typed/Bidi",
        [](h2rpc::ServerContext*, h2rpc::ServerReaderWriter<BytesValue, BytesValue>* stream) {
          BytesValue message;
          for (int i = 0; i < 8 && stream->Read(&message); ++i) {
            if (!stream->Write(message)) break;
          }
          return h2rpc::Status();
        });
  }
};

h2rpc::Status RawUnary(h2rpc::ServerContext& context, h2rpc::ServerCall& call) {
  std::string request;
  if (!call.Read(&request)) return h2rpc::Status(h2rpc::StatusCode::kInvalidArgument, "no request");
  for (const auto& [key, value] : context.client_metadata()) {
    if (key.starts_with("x-")) context.AddInitialMetadata(key, value);
  }
  if (!request.empty() && (request[0] & 1))
    context.set_compression_algorithm(h2rpc::Compression::kGzip);
  call.Write(request);
  return h2rpc::Status();
}

h2rpc::Status RawServerStream(h2rpc::ServerContext& context, h2rpc::ServerCall& call) {
  std::string request;
  if (!call.Read(&request)) return h2rpc::Status();
  if (!request.empty() && (request[0] & 2))
    context.set_compression_algorithm(h2rpc::Compression::kDeflate);
  for (int i = 0; i < 3; ++i) {
    if (!call.Write(request)) break;
  }
  return h2rpc::Status();
}

h2rpc::Status RawClientStream(h2rpc::ServerContext&, h2rpc::ServerCall& call) {
  std::string request;
  size_t total = 0;
  for (int i = 0; i < 16 && call.Read(&request); ++i) total += request.size();
  call.Write(std::to_string(total));
  return h2rpc::Status();
}

// The handler's status and trailing metadata come from the request: arbitrary messages must be
// percent-encoded, arbitrary keys rejected or sent validly, never put on the wire as they are.
h2rpc::Status RawStatus(h2rpc::ServerContext& context, h2rpc::ServerCall& call) {
  std::string request;
  if (!call.Read(&request) || request.empty()) return h2rpc::Status();
  const size_t half = request.size() / 2;
  context.AddTrailingMetadata(request.substr(1, half), request.substr(half));
  context.AddTrailingMetadata("x-trailer-bin", request);
  const int code = static_cast<unsigned char>(request[0]) % 17;
  return h2rpc::Status(static_cast<h2rpc::StatusCode>(code), request.substr(1));
}

h2rpc::Server* StartServer(int* port) {
  static TypedEcho typed;
  h2rpc::ServerBuilder builder;
#ifdef FUZZ_SERVER_TLS
  const fuzz_tls::KeyAndCertificate key_and_cert = fuzz_tls::MakeSelfSigned();
  h2rpc::SslServerCredentialsOptions tls;
  tls.pem_key_cert_pairs.push_back({key_and_cert.private_key_pem, key_and_cert.certificate_pem});
  builder.AddListeningPort("127.0.0.1:0", h2rpc::SslServerCredentials(tls), port);
#else
  builder.AddListeningPort("127.0.0.1:0", port);
#endif
  builder.RegisterService(&typed);
  builder.RegisterMethod("/fuzz.Raw/Unary", h2rpc::RpcKind::kUnary, RawUnary);
  builder.RegisterMethod("/fuzz.Raw/ServerStream", h2rpc::RpcKind::kServerStreaming,
                         RawServerStream);
  builder.RegisterMethod("/fuzz.Raw/ClientStream", h2rpc::RpcKind::kClientStreaming,
                         RawClientStream);
  builder.RegisterMethod("/fuzz.Raw/Status", h2rpc::RpcKind::kUnary, RawStatus);
  builder.SetMaxReceiveMessageSize(kMaxReceiveMessage);
  builder.SetMaxConcurrentCalls(16);
  // The smallest window and a small send budget: a script's SETTINGS can shrink the client's
  // window to a few bytes, and the handlers' writes then wait on flow control.
  builder.options().stream_window = 65535;
  builder.options().stream_send_budget = 2048;
  std::unique_ptr<h2rpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) std::fprintf(stderr, "%s\n", builder.error().message().c_str());
  FUZZ_CHECK(server != nullptr);
  // Serves until the process exits; never destroyed (libFuzzer exits without unwinding).
  return server.release();
}

// ---- Assembling the script ----

uint32_t StreamId(Input& in) {
  static constexpr uint32_t kIds[8] = {1, 3, 5, 7, 9, 11, 0, 2};
  return kIds[in.Byte() % 8];
}

std::vector<Field> HeaderList(Input& in) {
  std::vector<Field> fields;
  const uint8_t shape = in.Byte();
  if ((shape & 1) == 0) {  // a request's headers, mostly right
    fields.push_back({":method", (shape & 2) ? "POST" : Pick(in, {"GET", "PUT"})});
    fields.push_back({":scheme", (shape & 4) ? "http" : Pick(in, {"https", ""})});
    fields.push_back(
        {":path", Pick(in, {"/fuzz.Raw/Unary", "/fuzz.Raw/ServerStream", "/fuzz.Raw/ClientStream",
                            "/fuzz.Raw/Status", "/fuzz.Typed/Unary", "/fuzz.Typed/Bidi",
                            "/fuzz.Raw/Missing", "/fuzz.Missing/Unary", "/", "*"})});
    if (shape & 8) fields.push_back({":authority", "localhost"});
    fields.push_back({"content-type", (shape & 16)
                                          ? "application/grpc"
                                          : Pick(in, {"application/grpc+proto", "application/json",
                                                      "application/grpcx", "text/plain"})});
    if (shape & 32) fields.push_back({"te", "trailers"});
  }
  const int extra = in.Byte() % 6;
  for (int i = 0; i < extra; ++i) {
    std::string name =
        Pick(in, {"grpc-timeout", "grpc-encoding", "grpc-accept-encoding", "user-agent", "x-md",
                  "x-md-bin", "grpc-message", ":path", ":method", "content-length", "connection",
                  "te", "host", "grpc-status", ":status", "content-type"});
    std::string value = Pick(in, {"1S", "100m", "99999999H", "0n", "gzip", "deflate", "identity",
                                  "gzip, deflate", "AAAA", "=", "trailers", "0", "%FF"});
    fields.push_back({std::move(name), std::move(value)});
  }
  return fields;
}

// The streams the script opened properly (HEADERS on a new, higher odd id), then half-closed
// and did not reset: the server should answer each of them.
class Awaited {
 public:
  void OnHeaders(uint32_t id, bool end_stream) {
    if (id % 2 == 1 && id > last_opened_) {
      last_opened_ = id;
      open_.insert(id);
    }
    OnData(id, end_stream);
  }
  void OnData(uint32_t id, bool end_stream) {
    if (end_stream && open_.count(id) != 0) awaited_.insert(id);
  }
  // A raw HEADERS frame uses up its id (its block is garbage: no call to wait for).
  void OnRawHeaders(uint32_t id) { last_opened_ = std::max(last_opened_, id); }
  void OnReset(uint32_t id) {
    open_.erase(id);
    awaited_.erase(id);
  }
  // A SETTINGS frame may shrink the windows the responses need: then an answer may wait for
  // a WINDOW_UPDATE that never comes, and a missing one is not a failure.
  void OnSettings() { stall_possible_ = true; }
  bool stall_possible() const { return stall_possible_; }
  const std::set<uint32_t>& ids() const { return awaited_; }

 private:
  bool stall_possible_ = false;
  uint32_t last_opened_ = 0;
  std::set<uint32_t> open_;
  std::set<uint32_t> awaited_;
};

void AppendHeaders(std::string& out, Awaited& awaited, Input& in, HpackEncoder& hpack) {
  const uint32_t stream_id = StreamId(in);
  const uint8_t flags = in.Byte();
  const std::string block = hpack.Encode(HeaderList(in));
  const uint8_t end_stream = (flags & 1) ? NGHTTP2_FLAG_END_STREAM : 0;
  awaited.OnHeaders(stream_id, end_stream != 0);
  std::string prefix;
  uint8_t frame_flags = end_stream;
  if (flags & 2) {  // PRIORITY fields
    frame_flags |= NGHTTP2_FLAG_PRIORITY;
    prefix = Be32(in.Uint32()) + static_cast<char>(in.Byte());
  }
  if (flags & 4) {  // split into HEADERS + CONTINUATION
    const size_t cut = block.size() / 2;
    AppendFrame(out, NGHTTP2_HEADERS, frame_flags, stream_id, prefix + block.substr(0, cut));
    AppendFrame(out, NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, stream_id, block.substr(cut));
  } else {
    AppendFrame(out, NGHTTP2_HEADERS, frame_flags | NGHTTP2_FLAG_END_HEADERS, stream_id,
                prefix + block);
  }
}

void AppendData(std::string& out, Awaited& awaited, Input& in) {
  const uint32_t stream_id = StreamId(in);
  const uint8_t flags = in.Byte();
  std::string body = in.Bytes(64);
  if (flags & 8) {  // a serialized BytesValue, for the typed methods
    BytesValue value;
    value.set_value(body);
    body = value.SerializeAsString();
  }
  std::string payload = fuzz_h2::DataPayload(in, flags >> 1, (flags & 16) != 0, body);
  if (flags & 32) payload += payload;  // two messages in one frame
  uint8_t frame_flags = (flags & 1) ? NGHTTP2_FLAG_END_STREAM : 0;
  awaited.OnData(stream_id, frame_flags != 0);
  if (flags & 64) {
    frame_flags |= NGHTTP2_FLAG_PADDED;
    const uint8_t pad = in.Byte() % 16;
    payload = std::string(1, static_cast<char>(pad)) + payload + std::string(pad, '\0');
  }
  AppendFrame(out, NGHTTP2_DATA, frame_flags, stream_id, payload);
}

void AppendControl(std::string& out, Awaited& awaited, Input& in, uint8_t op) {
  switch (op) {
    case 0: {
      const uint32_t stream_id = StreamId(in);
      awaited.OnReset(stream_id);
      AppendFrame(out, NGHTTP2_RST_STREAM, 0, stream_id, Be32(in.Byte() % 16));
      break;
    }
    case 1:
      AppendFrame(out, NGHTTP2_WINDOW_UPDATE, 0, StreamId(in), Be32(in.Uint32() & 0x7fffffff));
      break;
    case 2: {
      std::string params;
      const int n = in.Byte() % 4;
      for (int i = 0; i < n; ++i) {
        const uint8_t id = in.Byte() % 10;
        params += static_cast<char>(0);
        params += static_cast<char>(id);
        params += Be32(in.Uint32());
      }
      if (n > 0) awaited.OnSettings();
      AppendFrame(out, NGHTTP2_SETTINGS, 0, 0, params);
      break;
    }
    case 3:
      AppendFrame(out, NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, "");
      break;
    case 4:
      AppendFrame(out, NGHTTP2_PING, in.Byte() & 1, 0, std::string(8, 'p'));
      break;
    case 5:
      AppendFrame(out, NGHTTP2_PRIORITY, 0, StreamId(in), Be32(in.Uint32()) + "\x10");
      break;
    case 6:
      AppendFrame(out, NGHTTP2_GOAWAY, 0, 0, Be32(in.Uint32() & 0x7fffffff) + Be32(in.Byte() % 16));
      break;
    default: {  // any frame at all
      const uint8_t type = in.Byte() % 12;
      const uint8_t flags = in.Byte();
      const uint32_t stream_id = StreamId(in);
      if (type == NGHTTP2_HEADERS) awaited.OnRawHeaders(stream_id);
      if (type == NGHTTP2_RST_STREAM) awaited.OnReset(stream_id);
      if (type == NGHTTP2_SETTINGS) awaited.OnSettings();
      AppendFrame(out, type, flags, stream_id, in.Bytes(32));
    }
  }
}

// ---- Talking to the server ----

// What the server sent, frame by frame, with the checks every response must pass whatever the
// client did: header blocks decode, every field is one a peer accepts (lowercase token name, no
// CR/LF/NUL in the value), a stream ends with trailers carrying a valid grpc-status (never with
// END_STREAM on DATA). FUZZ_SERVER_TRACE=1 (reproducing an input, checking a seed) also prints
// every frame and field.
class ServerView {
 public:
  ServerView() : trace_(std::getenv("FUZZ_SERVER_TRACE") != nullptr) {
    FUZZ_CHECK(nghttp2_hd_inflate_new(&inflater_) == 0);
  }
  ~ServerView() { nghttp2_hd_inflate_del(inflater_); }
  ServerView(const ServerView&) = delete;
  ServerView& operator=(const ServerView&) = delete;

  bool goaway() const { return goaway_; }
  bool Closed(uint32_t stream_id) const { return closed_.count(stream_id) != 0; }

  void Add(const char* data, size_t n) {
    bytes_.append(data, n);
    size_t used = 0;
    while (bytes_.size() - used >= 9) {
      const auto* h = reinterpret_cast<const uint8_t*>(bytes_.data() + used);
      const size_t length = (size_t{h[0]} << 16) | (size_t{h[1]} << 8) | h[2];
      if (bytes_.size() - used < 9 + length) break;
      OnFrame(h[3], h[4], Be32At(h + 5) & 0x7fffffff, h + 9, length);
      used += 9 + length;
    }
    bytes_.erase(0, used);
  }

 private:
  static uint32_t Be32At(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  }

  void OnFrame(uint8_t type, uint8_t flags, uint32_t stream_id, const uint8_t* payload,
               size_t length) {
    if (trace_) {
      std::fprintf(stderr, "trace: frame type %u flags 0x%02x stream %u length %zu\n", type, flags,
                   stream_id, length);
    }
    switch (type) {
      case NGHTTP2_DATA:
        // gRPC: a response always ends with trailers.
        FUZZ_CHECK((flags & NGHTTP2_FLAG_END_STREAM) == 0);
        break;
      case NGHTTP2_HEADERS:
        FUZZ_CHECK((flags & (NGHTTP2_FLAG_PADDED | NGHTTP2_FLAG_PRIORITY)) == 0);
        block_stream_ = stream_id;
        block_ends_stream_ = (flags & NGHTTP2_FLAG_END_STREAM) != 0;
        block_.assign(reinterpret_cast<const char*>(payload), length);
        if (flags & NGHTTP2_FLAG_END_HEADERS) OnHeaderBlock();
        break;
      case NGHTTP2_CONTINUATION:
        FUZZ_CHECK(stream_id == block_stream_);
        block_.append(reinterpret_cast<const char*>(payload), length);
        if (flags & NGHTTP2_FLAG_END_HEADERS) OnHeaderBlock();
        break;
      case NGHTTP2_RST_STREAM:
        FUZZ_CHECK(length == 4);
        if (trace_) std::fprintf(stderr, "trace:   error code %u\n", Be32At(payload));
        closed_.insert(stream_id);
        break;
      case NGHTTP2_GOAWAY:
        FUZZ_CHECK(length >= 8);
        if (trace_) {
          std::fprintf(stderr, "trace:   last stream %u, error code %u, debug \"%.*s\"\n",
                       Be32At(payload), Be32At(payload + 4), static_cast<int>(length - 8),
                       reinterpret_cast<const char*>(payload + 8));
        }
        goaway_ = true;
        break;
      default:
        break;
    }
  }

  void OnHeaderBlock() {
    const auto* in = reinterpret_cast<const uint8_t*>(block_.data());
    size_t n = block_.size();
    bool has_status = false;
    for (;;) {
      nghttp2_nv nv;
      int flags = 0;
      const ssize_t used = nghttp2_hd_inflate_hd2(inflater_, &nv, &flags, in, n, 1);
      FUZZ_CHECK(used >= 0);  // the server's HPACK must decode
      in += used;
      n -= static_cast<size_t>(used);
      if (flags & NGHTTP2_HD_INFLATE_EMIT) {
        const std::string_view name(reinterpret_cast<const char*>(nv.name), nv.namelen);
        const std::string_view value(reinterpret_cast<const char*>(nv.value), nv.valuelen);
        if (trace_) {
          std::fprintf(stderr, "trace:   %.*s: %.*s\n", static_cast<int>(name.size()), name.data(),
                       static_cast<int>(value.size()), value.data());
        }
        FUZZ_CHECK(nghttp2_check_header_name(nv.name, nv.namelen) ||
                   (name.starts_with(':') && name == ":status"));
        FUZZ_CHECK(nghttp2_check_header_value(nv.value, nv.valuelen));
        if (name == "grpc-status") {
          FUZZ_CHECK(!value.empty() && value.size() <= 2 &&
                     value.find_first_not_of("0123456789") == std::string_view::npos &&
                     std::stoi(std::string(value)) <= 16);
          has_status = true;
        }
      }
      if (flags & NGHTTP2_HD_INFLATE_FINAL) {
        nghttp2_hd_inflate_end_headers(inflater_);
        break;
      }
      FUZZ_CHECK(used > 0 || (flags & NGHTTP2_HD_INFLATE_EMIT));
    }
    if (block_ends_stream_) {
      FUZZ_CHECK(has_status);  // trailers, or a trailers-only response
      closed_.insert(block_stream_);
    }
  }

  bool trace_;
  nghttp2_hd_inflater* inflater_ = nullptr;
  std::string bytes_;
  std::string block_;
  uint32_t block_stream_ = 0;
  bool block_ends_stream_ = false;
  bool goaway_ = false;
  std::set<uint32_t> closed_;
};

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  FUZZ_CHECK(fd >= 0);
  // A new source address (127.1.x.y) each time: the server closes first after a protocol error,
  // and its TIME_WAIT entries would otherwise use up the (address, port) pairs of a long run.
  static uint32_t connections = 0;
  const uint32_t n = connections++ % 65000 + 1;
  sockaddr_in source{};
  source.sin_family = AF_INET;
  source.sin_addr.s_addr = htonl((127u << 24) | (1u << 16) | n);
  FUZZ_CHECK(bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof source) == 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int error = 0;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error = errno;
    if (error == EINTR) {  // libFuzzer's SIGALRM: the connection goes on; wait for its outcome
      pollfd p{fd, POLLOUT, 0};
      while (poll(&p, 1, 5000) < 0 && errno == EINTR) {
      }
      socklen_t len = sizeof error;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
    }
  }
  if (error != 0) {
    std::fprintf(stderr, "connect to the server: %s\n", std::strerror(error));
    std::abort();
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

#ifdef FUZZ_SERVER_TLS
using Wire = fuzz_tls::TlsWire;
#else
using Wire = fuzz_h2::PlainWire;
#endif

// Plays the script on `wire` and checks the server's answers; returns when the server closed.
void Play(Wire& wire, Input& in) {
  HpackEncoder hpack;
  ServerView view;
  auto read_until = [&](std::chrono::milliseconds wait, auto done) {
    return fuzz_h2::ReadWireUntil(wire, view, wait, done);
  };
  std::string out = NGHTTP2_CLIENT_MAGIC;
  AppendFrame(out, NGHTTP2_SETTINGS, 0, 0, "");
  Awaited awaited;
  int pauses = 0;
  bool open = true;
  while (!in.empty() && open) {
    const uint8_t op = in.Byte();
    switch (op % 8) {
      case 0:
      case 1:
        AppendHeaders(out, awaited, in, hpack);
        break;
      case 2:
      case 3:
        AppendData(out, awaited, in);
        break;
      case 4:
        // Send what is there and let the server answer before going on: handlers run, windows
        // fill, responses interleave with what follows.
        if (pauses++ < 3) {
          open = wire.Send(out) && read_until(std::chrono::milliseconds(2), [] { return false; });
          out.clear();
        }
        break;
      default:
        AppendControl(out, awaited, in, static_cast<uint8_t>(op >> 3));
    }
  }
#ifdef FUZZ_SERVER_TLS
  if (open && wire.ending() == fuzz_tls::TlsChoices::Ending::kKeyUpdate) wire.RequestKeyUpdate();
#endif
  if (open) open = wire.Send(out);
  // Every call the script completed gets its answer, unless the script may have stalled it
  // for good through flow control (then this only gives the handlers time to run) ...
  auto unanswered = [&]() -> uint32_t {
    if (view.goaway()) return 0;
    for (uint32_t id : awaited.ids()) {
      if (!view.Closed(id)) return id;
    }
    return 0;
  };
  if (open) {
    const auto wait = awaited.stall_possible() ? std::chrono::milliseconds(200) : kAnswerTimeout;
    open = read_until(wait, [&] { return unanswered() == 0; });
    if (open && unanswered() != 0) {
      if (!awaited.stall_possible()) {
        std::fprintf(stderr, "no answer on stream %u %lld ms after the client completed it\n",
                     unanswered(), static_cast<long long>(wait.count()));
        std::abort();
      }
      if (std::getenv("FUZZ_SERVER_TRACE") != nullptr) {
        std::fprintf(stderr, "trace: no answer on stream %u after 200 ms\n", unanswered());
      }
    }
  }
  // ... then end the connection: the server must notice and close its side.
  wire.End();
  if (open && read_until(kCloseTimeout, [] { return false; })) {
    std::fprintf(stderr, "the server kept the connection open %lld s after the client's end\n",
                 static_cast<long long>(kCloseTimeout.count()));
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A write to a connection the server already closed must fail with EPIPE, not end the
  // harness (OpenSSL's socket BIO writes without MSG_NOSIGNAL).
  static const bool ignore_sigpipe = signal(SIGPIPE, SIG_IGN) != SIG_ERR;
  (void)ignore_sigpipe;
  static int port = 0;
  static h2rpc::Server* server = StartServer(&port);
  (void)server;

  Input in(data, size);
  const int fd = Connect(port);
#ifdef FUZZ_SERVER_TLS
  const fuzz_tls::TlsChoices choices = fuzz_tls::TlsChoices::From(in.Byte());
  {
    fuzz_tls::TlsWire wire(fd, choices, fuzz_tls::TlsWire::Role::kClient);
    if (wire.Handshake(std::chrono::seconds(5))) {
      Play(wire, in);
    } else {
      // Refusing a client that does not offer h2 is right; failing one that does is not.
      FUZZ_CHECK(!choices.offer_h2);
    }
  }
#else
  {
    Wire wire(fd);
    Play(wire, in);
  }
#endif
  // Both sides are done: close without TIME_WAIT, or a long run (a thousand connections a
  // second) uses up the ephemeral ports.
  const linger no_linger{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_linger, sizeof no_linger);
  close(fd);
  return 0;
}
