// Fuzzes the h2rpc client (Channel, ClientCall, the client transport and its I/O thread) against
// a fake server that plays each input as a script of HTTP/2 frames over loopback TCP.
//
// Per input: a new Channel starts one to three calls (unary-like, streaming both ways, or
// without half-close) on one connection; the harness, as the server, answers with SETTINGS and
// then the script: response HEADERS and trailers from a dictionary of right and wrong fields
// (statuses, messages, encodings, metadata), gRPC-framed DATA (plain, compressed, oversize or
// lying), RST_STREAM, GOAWAY, PING, WINDOW_UPDATE, SETTINGS and raw frames, with pauses in
// between. Then the server goes away (end of stream on the socket) and every call must end
// promptly with a valid status. Connections the client opens again (a retry after GOAWAY or
// REFUSED_STREAM) are accepted and closed at once.
//
// Failures: sanitizer reports in any thread, a status code outside gRPC's 0..16, calls still
// running 5 s after the server closed the connection (a hang). FUZZ_CLIENT_TRACE=1 (replaying
// one input) prints how each call ended.
//
// Built twice: fuzz_client speaks plaintext HTTP/2; fuzz_client_tls (FUZZ_CLIENT_TLS) plays the
// same scripts inside TLS, the harness being the TLS server of a certificate the channel trusts;
// the input's second byte chooses the record size, the TLS version, whether ALPN agrees to h2
// and how the server ends (tls_wire.h).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fuzz_check.h"
#include "h2_script.h"
#include "h2rpc.h"
#ifdef FUZZ_CLIENT_TLS
#include "tls_wire.h"
#endif

namespace {

using fuzz_h2::AppendFrame;
using fuzz_h2::Be32;
using fuzz_h2::Field;
using fuzz_h2::HpackEncoder;
using fuzz_h2::Input;
using fuzz_h2::Pick;

constexpr auto kEndTimeout = std::chrono::seconds(5);
constexpr uint32_t kMaxReceiveMessage = 1024;
constexpr int kMaxCalls = 3;

// ---- The client side: the calls a script answers ----

enum class CallShape { kOneMessage, kTwoMessages, kNoHalfClose, kNoMessage };

void RunCall(h2rpc::Channel& channel, CallShape shape) {
  h2rpc::ClientContext context;
  // Far beyond the test's own bound: a call must end because the connection ended, not time out.
  context.set_timeout(std::chrono::seconds(30));
  context.AddMetadata("x-fuzz", "1");
  std::unique_ptr<h2rpc::ClientCall> call = channel.StartCall(context, "/fuzz.Fake/Method");
  FUZZ_CHECK(call != nullptr);
  if (shape != CallShape::kNoMessage) call->Write("request");
  if (shape == CallShape::kTwoMessages) call->Write("second request");
  if (shape != CallShape::kNoHalfClose) call->WritesDone();
  std::string message;
  int received = 0;
  for (; received < 64 && call->Read(&message); ++received) {
    FUZZ_CHECK(message.size() <= kMaxReceiveMessage);
  }
  const h2rpc::Status status = call->Finish();
  FUZZ_CHECK(static_cast<int>(status.code()) >= 0 && static_cast<int>(status.code()) <= 16);
  if (std::getenv("FUZZ_CLIENT_TRACE") != nullptr) {  // replaying one input: what each call got
    std::fprintf(stderr, "trace: call ended %d \"%s\" after %d messages\n",
                 static_cast<int>(status.code()), status.message().c_str(), received);
  }
}

// ---- The fake server ----

class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    FUZZ_CHECK(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    FUZZ_CHECK(listen(fd_, 16) == 0);
    socklen_t len = sizeof addr;
    FUZZ_CHECK(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() { close(fd_); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  int port() const { return port_; }
  // A connection within `wait`, or -1.
  int Accept(std::chrono::milliseconds wait) {
    const auto until = std::chrono::steady_clock::now() + wait;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0))) > 0) {
        const int fd = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) return fd;
        last_error_ = errno;  // e.g. ECONNABORTED: a connection that went away queued
      }
      if (left.count() <= 0) return -1;
    }
  }
  int last_error() const { return last_error_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  int last_error_ = 0;
};

// Reads the client's frames, keeping the ids of the streams it opened, in order.
class ClientView {
 public:
  // Reads for up to `wait` or until `done()`; false once the client closed or reset.
  template <class Wire, class Done>
  bool Read(Wire& wire, std::chrono::milliseconds wait, Done done) {
    return fuzz_h2::ReadWireUntil(wire, *this, wait, done);
  }
  const std::vector<uint32_t>& opened() const { return opened_; }
  // The bytes read (ReadUntil's callback).
  void Add(const char* data, size_t n) {
    bytes_.append(data, n);
    size_t used = 0;
    if (!preface_seen_) {
      const std::string_view magic = NGHTTP2_CLIENT_MAGIC;
      if (bytes_.size() < magic.size()) return;
      FUZZ_CHECK(std::string_view(bytes_).substr(0, magic.size()) == magic);
      preface_seen_ = true;
      used = magic.size();
    }
    while (bytes_.size() - used >= 9) {
      const auto* h = reinterpret_cast<const uint8_t*>(bytes_.data() + used);
      const size_t length = (size_t{h[0]} << 16) | (size_t{h[1]} << 8) | h[2];
      if (bytes_.size() - used < 9 + length) break;
      const uint32_t id =
          ((uint32_t{h[5]} << 24) | (uint32_t{h[6]} << 16) | (uint32_t{h[7]} << 8) | h[8]) &
          0x7fffffff;
      if (h[3] == NGHTTP2_HEADERS && (opened_.empty() || id > opened_.back())) {
        FUZZ_CHECK(id % 2 == 1);  // client streams are odd
        opened_.push_back(id);
      }
      used += 9 + length;
    }
    bytes_.erase(0, used);
  }

 private:
  bool preface_seen_ = false;
  std::string bytes_;
  std::vector<uint32_t> opened_;
};

// The k-th stream the client opened, a stream it did not open, or the connection.
uint32_t StreamId(Input& in, const ClientView& client) {
  const uint8_t pick = in.Byte() % 6;
  if (pick < kMaxCalls) {
    return pick < client.opened().size() ? client.opened()[pick] : 2u * pick + 1;
  }
  if (pick == 3) return 0;
  if (pick == 4) return 2;  // a server-initiated id nobody promised
  return 101;               // an odd id the client never used
}

std::vector<Field> ResponseHeaders(Input& in, bool trailers_only) {
  std::vector<Field> fields;
  const uint8_t shape = in.Byte();
  if ((shape & 1) == 0) {
    fields.push_back({":status", (shape & 2) ? "200" : Pick(in, {"404", "503", "100", "20x"})});
    fields.push_back({"content-type", (shape & 4) ? "application/grpc"
                                                  : Pick(in, {"application/grpc+proto", "text/html",
                                                              "application/grpcx"})});
    if (shape & 8) fields.push_back({"grpc-encoding", Pick(in, {"gzip", "deflate", "identity"})});
  }
  if (trailers_only || (shape & 16)) {
    fields.push_back(
        {"grpc-status", Pick(in, {"0", "1", "4", "8", "13", "14", "16", "17", "-1", "007"})});
    fields.push_back(
        {"grpc-message", Pick(in, {"ok", "bad%20thing", "%", "%4", "%E2%82%AC", "%FF%FE", "%00"})});
  }
  const int extra = in.Byte() % 5;
  for (int i = 0; i < extra; ++i) {
    std::string name = Pick(
        in, {"x-md", "x-md-bin", "grpc-status-details-bin", "grpc-status", "grpc-message",
             ":status", "content-length", "connection", "grpc-encoding", "grpc-accept-encoding"});
    std::string value = Pick(in, {"0", "AAAA", "=", "a b", "gzip", "12", "%41", "\x7f"});
    fields.push_back({std::move(name), std::move(value)});
  }
  return fields;
}

void AppendHeaders(std::string& out, Input& in, const ClientView& client, HpackEncoder& hpack,
                   bool trailers) {
  const uint32_t stream_id = StreamId(in, client);
  const uint8_t flags = in.Byte();
  const bool end_stream = trailers || (flags & 1);
  std::vector<Field> fields;
  if (trailers) {
    fields.push_back(
        {"grpc-status", Pick(in, {"0", "2", "3", "5", "11", "13", "14", "99", "", " 0"})});
    if (flags & 2) fields.push_back({"grpc-message", Pick(in, {"done", "%E2%9C%93", "%zz"})});
    if (flags & 4) fields.push_back({"x-trailer-bin", Pick(in, {"AAAA", "AA==", "!!"})});
  } else {
    fields = ResponseHeaders(in, end_stream);
  }
  const std::string block = hpack.Encode(fields);
  const uint8_t frame_flags = end_stream ? NGHTTP2_FLAG_END_STREAM : 0;
  if (flags & 8) {  // split into HEADERS + CONTINUATION
    const size_t cut = block.size() / 2;
    AppendFrame(out, NGHTTP2_HEADERS, frame_flags, stream_id, block.substr(0, cut));
    AppendFrame(out, NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, stream_id, block.substr(cut));
  } else {
    AppendFrame(out, NGHTTP2_HEADERS, frame_flags | NGHTTP2_FLAG_END_HEADERS, stream_id, block);
  }
}

void AppendData(std::string& out, Input& in, const ClientView& client) {
  const uint32_t stream_id = StreamId(in, client);
  const uint8_t flags = in.Byte();
  std::string body = in.Bytes(64);
  if (flags & 16) body.resize(kMaxReceiveMessage + 1, 'z');  // one byte over the limit
  std::string payload = fuzz_h2::DataPayload(in, flags >> 1, (flags & 32) != 0, body);
  if (flags & 64) payload += payload;  // two messages in one frame
  AppendFrame(out, NGHTTP2_DATA, (flags & 1) ? NGHTTP2_FLAG_END_STREAM : 0, stream_id, payload);
}

void AppendControl(std::string& out, Input& in, const ClientView& client, uint8_t op) {
  switch (op % 7) {
    case 0:
      AppendFrame(out, NGHTTP2_RST_STREAM, 0, StreamId(in, client), Be32(in.Byte() % 16));
      break;
    case 1:
      AppendFrame(out, NGHTTP2_WINDOW_UPDATE, 0, StreamId(in, client),
                  Be32(in.Uint32() & 0x7fffffff));
      break;
    case 2: {
      std::string params;
      const int n = in.Byte() % 4;
      for (int i = 0; i < n; ++i) {
        params += static_cast<char>(0);
        params += static_cast<char>(in.Byte() % 10);
        params += Be32(in.Uint32());
      }
      AppendFrame(out, NGHTTP2_SETTINGS, 0, 0, params);
      break;
    }
    case 3:
      AppendFrame(out, NGHTTP2_PING, in.Byte() & 1, 0, std::string(8, 'p'));
      break;
    case 4: {
      // GOAWAY: last_stream_id one of the client's (or 0: nothing processed, retry them all).
      const uint8_t pick = in.Byte() % 4;
      const uint32_t last = pick < client.opened().size() ? client.opened()[pick] : 0;
      AppendFrame(out, NGHTTP2_GOAWAY, 0, 0, Be32(last) + Be32(in.Byte() % 14) + in.Bytes(16));
      break;
    }
    case 5:
      AppendFrame(out, NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, "");
      break;
    default: {  // any frame at all
      const uint8_t type = in.Byte() % 12;
      const uint8_t flags = in.Byte();
      AppendFrame(out, type, flags, StreamId(in, client), in.Bytes(32));
    }
  }
}

#ifdef FUZZ_CLIENT_TLS
using Wire = fuzz_tls::TlsWire;
#else
using Wire = fuzz_h2::PlainWire;
#endif

// Plays the script on one accepted connection; returns when the script is over.
void PlayScript(Wire& wire, Input& in, ClientView& client, size_t calls) {
  HpackEncoder hpack;
  // The server's preface first: the client sends its calls only after it.
  std::string out;
  AppendFrame(out, NGHTTP2_SETTINGS, 0, 0, "");
  AppendFrame(out, NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, "");
  bool open = wire.Send(out);
  out.clear();
  open = open && client.Read(wire, std::chrono::milliseconds(1000),
                             [&] { return client.opened().size() >= calls; });
  int pauses = 0;
  while (open && !in.empty()) {
    const uint8_t op = in.Byte();
    switch (op % 8) {
      case 0:
        AppendHeaders(out, in, client, hpack, /*trailers=*/false);
        break;
      case 1:
        AppendHeaders(out, in, client, hpack, /*trailers=*/true);
        break;
      case 2:
      case 3:
        AppendData(out, in, client);
        break;
      case 4:
        // Let the client react (read, answer PING and SETTINGS, open a stream) before going on.
        if (pauses++ < 3) {
          open = wire.Send(out) &&
                 client.Read(wire, std::chrono::milliseconds(2), [] { return false; });
          out.clear();
        }
        break;
      case 5:
        if ((op >> 3) == 0) {  // the server goes away in the middle of the script
          wire.Send(out);
          return;
        }
        [[fallthrough]];
      default:
        AppendControl(out, in, client, static_cast<uint8_t>(op >> 3));
    }
  }
#ifdef FUZZ_CLIENT_TLS
  if (open && wire.ending() == fuzz_tls::TlsChoices::Ending::kKeyUpdate) wire.RequestKeyUpdate();
#endif
  if (open) wire.Send(out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A write to a connection the client already closed must fail with EPIPE, not end the
  // harness (OpenSSL's socket BIO writes without MSG_NOSIGNAL).
  static const bool ignore_sigpipe = signal(SIGPIPE, SIG_IGN) != SIG_ERR;
  (void)ignore_sigpipe;
  Input in(data, size);
  const uint8_t setup = in.Byte();
  const size_t calls = 1 + setup % kMaxCalls;

  // A listening socket per input: the fake server closes first, and its TIME_WAIT entries would
  // otherwise use up the client ports a long run needs towards one address.
  Listener listener;
  h2rpc::ChannelOptions options;
  options.max_receive_message_size = kMaxReceiveMessage;
  options.connect_timeout = std::chrono::milliseconds(2000);
#ifdef FUZZ_CLIENT_TLS
  static const fuzz_tls::KeyAndCertificate key_and_cert = fuzz_tls::MakeSelfSigned();
  static const std::shared_ptr<h2rpc::ChannelCredentials> credentials = [] {
    h2rpc::SslCredentialsOptions tls;
    tls.pem_root_certs = key_and_cert.certificate_pem;
    return h2rpc::SslCredentials(tls);
  }();
  FUZZ_CHECK(credentials->status().ok());
  options.ssl_target_name_override = "localhost";  // the certificate's name, checked
  const fuzz_tls::TlsChoices choices = fuzz_tls::TlsChoices::From(in.Byte());
#else
  const std::shared_ptr<h2rpc::ChannelCredentials> credentials =
      h2rpc::InsecureChannelCredentials();
#endif
  std::shared_ptr<h2rpc::Channel> channel =
      h2rpc::CreateChannel("127.0.0.1:" + std::to_string(listener.port()), credentials, options);
  FUZZ_CHECK(channel != nullptr);

  std::atomic<size_t> finished{0};
  std::vector<std::thread> callers;
  for (size_t i = 0; i < calls; ++i) {
    const auto shape = static_cast<CallShape>((setup >> (2 + 2 * i)) & 3);
    callers.emplace_back([&channel, &finished, shape] {
      RunCall(*channel, shape);
      ++finished;
    });
  }

  const int fd = listener.Accept(std::chrono::milliseconds(5000));
  if (fd < 0) {  // the calls started, so the client connects
    std::fprintf(stderr, "the client did not connect within 5 s (last accept error: %s)\n",
                 std::strerror(listener.last_error()));
    std::abort();
  }
  ClientView client;
#ifdef FUZZ_CLIENT_TLS
  Wire wire(fd, choices, Wire::Role::kServer, &key_and_cert);
  // The h2rpc client trusts this certificate and always offers h2: it may end the handshake
  // only when the harness agreed to no protocol.
  if (wire.Handshake(std::chrono::seconds(5))) {
    PlayScript(wire, in, client, calls);
  } else {
    FUZZ_CHECK(!choices.offer_h2);
  }
#else
  Wire wire(fd);
  PlayScript(wire, in, client, calls);
#endif
  // The server goes away: every call must end now, retried or not.
  wire.End();
  const auto until = std::chrono::steady_clock::now() + kEndTimeout;
  bool client_open = true;
  while (finished.load() < calls) {
    if (std::chrono::steady_clock::now() > until) {
      std::fprintf(stderr, "%zu of %zu calls still running %lld s after the server closed\n",
                   calls - finished.load(), calls,
                   static_cast<long long>(
                       std::chrono::duration_cast<std::chrono::seconds>(kEndTimeout).count()));
      std::abort();
    }
    if (client_open) {
      client_open = client.Read(wire, std::chrono::milliseconds(5), [] { return false; });
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    // A retry's new connection: accept it and close it at once.
    const int again = listener.Accept(std::chrono::milliseconds(0));
    if (again >= 0) close(again);
  }
  for (std::thread& t : callers) t.join();
  close(fd);
  return 0;
}
