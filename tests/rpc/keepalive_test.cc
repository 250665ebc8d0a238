// Keepalive and connection lifetime over real loopback sockets: client and server keepalive
// against a stopped or silent peer, the server's PING-rate enforcement (too_many_pings), max
// connection idle / age / grace, and the client's transparent retry of calls a GOAWAY says
// were never processed. The stopped server is a child process (SIGSTOP keeps its socket open
// but silent, like a hung host).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "h2rpc.h"
#include "tests/rpc/raw_peer.h"
#include "tests/rpc/server_harness.h"

extern char** environ;

namespace h2rpc::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string Target(int port) { return "127.0.0.1:" + std::to_string(port); }

/// The keepalive_test_server program: from meson's environment, else next to this binary.
std::string ChildServerPath() {
  if (const char* path = std::getenv("H2RPC_KEEPALIVE_TEST_SERVER")) return path;
  char self[4096] = {};
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  std::string dir = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string();
  dir = dir.substr(0, dir.rfind('/') + 1);
  return dir + "keepalive_test_server";
}

/// An h2rpc echo server in a child process, killed (and reaped) when this goes away.
class ChildServer {
 public:
  explicit ChildServer(int port = 0) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    const std::string path = ChildServerPath();
    const std::string port_arg = std::to_string(port);
    char* argv[] = {const_cast<char*>(path.c_str()), const_cast<char*>(port_arg.c_str()), nullptr};
    const int rv = posix_spawn(&pid_, path.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    REQUIRE_MESSAGE(rv == 0, "cannot start " << path << ": " << std::strerror(rv));
    // "PORT <n>\n", within 20 s (sanitizer builds start slowly).
    std::string line;
    const auto until = Clock::now() + 20s;
    while (line.find('\n') == std::string::npos && Clock::now() < until) {
      pollfd p{fds[0], POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[64];
      const ssize_t n = read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    close(fds[0]);
    if (line.rfind("PORT ", 0) == 0) port_ = std::atoi(line.c_str() + 5);
    REQUIRE_MESSAGE(port_ > 0, "the child server did not report its port: " << line);
  }
  ~ChildServer() { Kill(); }
  ChildServer(const ChildServer&) = delete;
  ChildServer& operator=(const ChildServer&) = delete;

  int port() const { return port_; }
  void Stop() { kill(pid_, SIGSTOP); }
  void Continue() { kill(pid_, SIGCONT); }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

/// Runs `blocking` on a thread; if it has not returned within `limit`, calls `unblock` (so the
/// test never hangs) and reports false.
bool EndsWithin(const std::function<void()>& blocking, const std::function<void()>& unblock,
                std::chrono::milliseconds limit) {
  std::atomic<bool> done{false};
  std::thread worker([&] {
    blocking();
    done.store(true);
  });
  const bool in_time = Eventually([&] { return done.load(); }, limit);
  if (!in_time) unblock();
  worker.join();
  return in_time;
}

Status Unary(Channel& channel, const std::string& request, std::string* reply = nullptr,
             const std::string& path = "/test.Echo/Unary") {
  ClientContext context;
  context.set_timeout(20s);
  std::string local;
  return channel.UnaryCall(context, path, request, reply != nullptr ? reply : &local);
}

/// The client addresses (one per connection) that called the server's handlers.
struct PeerLog {
  std::mutex mutex;
  std::set<std::string> peers;
  void Add(const ServerContext& context) {
    std::lock_guard<std::mutex> lock(mutex);
    peers.insert(context.peer());
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mutex);
    return peers.size();
  }
};

void RegisterLoggedEcho(ServerBuilder& b, PeerLog& log) {
  auto echo = [&log](ServerContext& context, ServerCall& call) {
    log.Add(context);
    return EchoHandler(context, call);
  };
  b.RegisterMethod("/test.Echo/Unary", RpcKind::kUnary, echo);
  b.RegisterMethod("/test.Echo/Bidi", RpcKind::kBidiStreaming, echo);
}

// ---------------------------------------------------------------------------------------------
// Keepalive against a stopped or silent peer.

TEST_CASE("keepalive: the client detects a stopped server within time + timeout, then reconnects") {
  ChildServer child;
  ChannelOptions options;
  options.keepalive_time = 300ms;
  options.keepalive_timeout = 500ms;
  auto channel = Channel::Create(Target(child.port()), options);
  ClientContext context;
  auto call = channel->StartCall(context, "/test.Echo/Bidi");  // no deadline
  REQUIRE(call->Write("before"));
  std::string m;
  REQUIRE(call->Read(&m));
  CHECK(m == "before");

  child.Stop();
  const auto stopped_at = Clock::now();
  bool read_ok = true;
  const bool ended =
      EndsWithin([&] { read_ok = call->Read(&m); }, [&] { context.TryCancel(); }, 15s);
  const auto elapsed = Clock::now() - stopped_at;
  CHECK_MESSAGE(ended, "the call hung on a stopped server");
  CHECK_FALSE(read_ok);
  const Status status = call->Finish();
  CHECK(status.code() == StatusCode::kUnavailable);
  CHECK_MESSAGE(
      status.message().find("keepalive ping not acknowledged within 500 ms") != std::string::npos,
      status.message());
  CHECK(elapsed >= 400ms);              // at least the ping timeout (timer slack aside)
  CHECK(elapsed < 300ms + 500ms + 5s);  // time + timeout, generous for sanitizers

  SUBCASE("the server resumes") {
    child.Continue();
    std::string reply;
    CHECK(Unary(*channel, "after", &reply).ok());
    CHECK(reply == "after");
  }
  SUBCASE("the server restarts on the same port") {
    const int port = child.port();
    child.Kill();
    ChildServer restarted(port);
    std::string reply;
    CHECK(Unary(*channel, "after", &reply).ok());
    CHECK(reply == "after");
  }
}

TEST_CASE("keepalive: the server drops a client that stops answering, cancelling its calls") {
  std::atomic<bool> started{false}, ended{false}, saw_cancel{false};
  auto ts = StartServer([&](ServerBuilder& b) {
    b.options().keepalive_time = 200ms;
    b.options().keepalive_timeout = 300ms;
    b.RegisterMethod("/test.K/Bidi", RpcKind::kBidiStreaming,
                     [&](ServerContext& context, ServerCall& call) {
                       started.store(true);
                       std::string m;
                       while (call.Read(&m)) {
                       }
                       saw_cancel.store(context.IsCancelled());
                       ended.store(true);
                       return Status();
                     });
  });
  RawPeer peer(ts.port);
  REQUIRE(peer.connected());
  peer.set_auto_ack(false);
  REQUIRE(peer.SendHeaders(peer.NextStreamId(), GrpcRequest("/test.K/Bidi"), false));
  REQUIRE(Eventually([&] { return started.load(); }));
  const auto silent_from = Clock::now();
  // From here the peer sends nothing (no PING ACK): read until the server hangs up.
  bool saw_ping = false;
  while (!peer.closed() && Clock::now() - silent_from < 15s) {
    if (std::optional<Frame> frame = peer.ReadFrame(100ms)) {
      if (frame->type == kPing && (frame->flags & kAck) == 0) saw_ping = true;
    }
  }
  const auto elapsed = Clock::now() - silent_from;
  CHECK(saw_ping);
  CHECK(peer.closed());
  CHECK(elapsed < 200ms + 300ms + 5s);
  REQUIRE(Eventually([&] { return ended.load(); }, 10000ms));
  CHECK(saw_cancel.load());
}

// ---------------------------------------------------------------------------------------------
// PING-rate enforcement.

TEST_CASE("keepalive: PINGs every 10 ms → GOAWAY(ENHANCE_YOUR_CALM, \"too_many_pings\")") {
  auto ts = StartServer(
      [](ServerBuilder& b) { b.RegisterMethod("/t.F/Echo", RpcKind::kUnary, EchoHandler); });
  RawPeer peer(ts.port);
  REQUIRE(peer.connected());
  std::optional<Frame> goaway;
  int pings = 0;
  const auto until = Clock::now() + 10s;
  while (!goaway && !peer.closed() && Clock::now() < until) {
    peer.SendPing(static_cast<uint64_t>(++pings));
    while (std::optional<Frame> frame = peer.ReadFrame(10ms)) {
      if (frame->type == kGoaway) {
        goaway = std::move(frame);
        break;
      }
    }
  }
  REQUIRE(goaway.has_value());
  REQUIRE(goaway->payload.size() >= 8);
  const auto byte = [&](size_t i) {
    return static_cast<uint32_t>(static_cast<uint8_t>(goaway->payload[i]));
  };
  const uint32_t error = byte(4) << 24 | byte(5) << 16 | byte(6) << 8 | byte(7);
  CHECK(error == 0xb);  // ENHANCE_YOUR_CALM
  CHECK(goaway->payload.substr(8) == "too_many_pings");
  CHECK(pings <= 3 + 10);  // the 4th too-early PING is one too many (max_ping_strikes 2)
  // No call is open: the connection ends right after the GOAWAY.
  peer.RunUntil([] { return false; }, 5000ms);
  CHECK(peer.closed());
  RawPeer honest(ts.port);
  CHECK(honest.Unary("/t.F/Echo", "ok").GrpcStatus().ok());
}

TEST_CASE(
    "keepalive: a stream read right behind the PING that earns too_many_pings is not processed") {
  // The GOAWAY is decided inside the PING's callback; the HEADERS that follow it in the same
  // read are above the last stream id it names, so the client will take them as unprocessed.
  // The handlers answer only once the GOAWAY is in: a response would reset the PING strikes.
  std::atomic<int> handled{0};
  std::atomic<bool> answer{false};
  auto ts = StartServer([&](ServerBuilder& b) {
    b.RegisterMethod("/t.F/Echo", RpcKind::kUnary, [&](ServerContext& ctx, ServerCall& call) {
      handled.fetch_add(1);
      Eventually([&] { return answer.load(); }, 5000ms);
      return EchoHandler(ctx, call);
    });
  });
  RawPeer peer(ts.port);
  REQUIRE(peer.connected());
  std::vector<int32_t> ids;
  for (uint64_t ping = 1; ping <= 20 && !peer.goaway_received() && !peer.closed(); ++ping) {
    std::string opaque(8, '\0');
    std::memcpy(opaque.data(), &ping, 8);
    const int32_t id = peer.NextStreamId();
    ids.push_back(id);
    // One write: the server reads PING and request together.
    peer.SendRaw(RawPeer::FrameBytes(kPing, 0, 0, opaque) + peer.UnaryBytes(id, "/t.F/Echo", "m"));
    peer.RunUntil([&] { return peer.goaway_received(); }, 20ms);
  }
  answer = true;
  REQUIRE(peer.goaway_received());
  CHECK(peer.goaway_error() == 0xb);  // ENHANCE_YOUR_CALM
  const int32_t last = peer.goaway_last_stream_id();
  peer.RunUntil([] { return false; }, 2000ms);  // until the connection ends
  int processed = 0;
  for (int32_t id : ids) {
    if (id <= last) {
      ++processed;
      CHECK(peer.stream(id).GrpcStatus().ok());
    } else {
      CHECK_FALSE(peer.stream(id).end_stream);  // no response: refused, or ignored
      if (peer.stream(id).reset) CHECK(peer.stream(id).rst_code == 0x7);  // REFUSED_STREAM
    }
  }
  CHECK(ids.back() > last);  // the stream behind the offending PING
  CHECK(handled.load() == processed);
}

TEST_CASE("keepalive: a client pinging no faster than keepalive_min_time is never struck") {
  PeerLog log;
  auto ts = StartServer([&](ServerBuilder& b) {
    b.options().keepalive_min_time = 200ms;
    b.options().max_ping_strikes = 0;  // the very first early PING would cost the connection
    RegisterLoggedEcho(b, log);
  });
  ChannelOptions options;
  options.keepalive_time = 300ms;
  options.keepalive_timeout = 5s;
  auto channel = Channel::Create(Target(ts.port), options);
  ClientContext context;
  auto call = channel->StartCall(context, "/test.Echo/Bidi");
  std::string m;
  REQUIRE(call->Write("1"));
  REQUIRE(call->Read(&m));
  std::this_thread::sleep_for(2s);  // ~6 keepalive PINGs on an otherwise quiet call
  REQUIRE(call->Write("2"));
  REQUIRE(call->Read(&m));
  CHECK(m == "2");
  REQUIRE(call->WritesDone());
  CHECK(call->Finish().ok());
  CHECK(Unary(*channel, "3").ok());
  CHECK(log.size() == 1);  // one connection throughout: no GOAWAY
}

TEST_CASE("keepalive: too_many_pings doubles the client's interval and no call fails") {
  PeerLog log;
  auto ts = StartServer([&](ServerBuilder& b) {
    b.options().keepalive_min_time = 1s;
    b.options().keepalive_permit_without_calls = true;
    RegisterLoggedEcho(b, log);
  });
  ChannelOptions options;
  options.keepalive_time = 50ms;
  options.keepalive_timeout = 5s;
  options.keepalive_permit_without_calls = true;
  auto channel = Channel::Create(Target(ts.port), options);
  // Pauses of 300 ms: at 50 ms and 100 ms the client strikes out within one pause; from 200 ms
  // on it pings at most once per pause and each call's response forgives that strike.
  constexpr int kRounds = 12;
  int failures = 0;
  for (int i = 0; i < kRounds; ++i) {
    const Status status = Unary(*channel, "r" + std::to_string(i));
    if (!status.ok()) {
      ++failures;
      MESSAGE("call " << i << ": " << status.ToString());
    }
    std::this_thread::sleep_for(300ms);
  }
  MESSAGE("connections used: " << log.size());
  CHECK(failures == 0);
  CHECK(log.size() >= 2);  // it was told at least once
  CHECK(log.size() <= 6);  // and it listened (without doubling: a new connection every pause)
}

// ---------------------------------------------------------------------------------------------
// Connection lifetime.

TEST_CASE("lifetime: max_connection_idle → GOAWAY, and the next call reconnects") {
  PeerLog log;
  auto ts = StartServer([&](ServerBuilder& b) {
    b.options().max_connection_idle = 300ms;
    RegisterLoggedEcho(b, log);
  });
  auto channel = Channel::Create(Target(ts.port));
  CHECK(Unary(*channel, "a").ok());
  // The server closes the idle connection; both sides let it go.
  CHECK(Eventually([&] { return ts.server != nullptr && log.size() == 1; }));
  std::this_thread::sleep_for(1200ms);
  CHECK(Unary(*channel, "b").ok());
  CHECK(log.size() == 2);
  // A busy connection is not idle: a call longer than max_connection_idle stays on it.
  ClientContext context;
  auto call = channel->StartCall(context, "/test.Echo/Bidi");
  std::string m;
  for (int i = 0; i < 6; ++i) {
    REQUIRE(call->Write("x"));
    REQUIRE(call->Read(&m));
    std::this_thread::sleep_for(100ms);
  }
  REQUIRE(call->WritesDone());
  CHECK(call->Finish().ok());
}

TEST_CASE(
    "lifetime: a connection that ends in good order drains the client's late bytes, up to "
    "a bound") {
  // The client may still be writing when the server is done (WINDOW_UPDATEs, a reset of a
  // stream, a request sent before it read the GOAWAY). Answering those with a TCP reset fails
  // the client's next write, and gRPC clients then fail every call on the connection, also
  // calls whose responses had arrived but were not read yet.
  auto ts = StartServer([](ServerBuilder& b) {
    b.options().max_connection_idle = 100ms;
    b.RegisterMethod("/t.F/Echo", RpcKind::kUnary, EchoHandler);
  });
  RawPeer peer(ts.port);
  REQUIRE(peer.connected());
  CHECK(peer.Unary("/t.F/Echo", "m").GrpcStatus().ok());
  REQUIRE(peer.RunUntil([&] { return peer.closed(); }, 3000ms));  // GOAWAY, then the server's FIN
  CHECK(peer.goaway_received());
  SUBCASE("a few late frames are taken: no reset") {
    const std::string late = RawPeer::FrameBytes(kWindowUpdate, 0, 0, std::string("\0\0\x10\0", 4));
    CHECK(::send(peer.fd(), late.data(), late.size(), MSG_NOSIGNAL) == ssize_t(late.size()));
    std::this_thread::sleep_for(100ms);
    const ssize_t sent = ::send(peer.fd(), late.data(), late.size(), MSG_NOSIGNAL);
    const int error = sent < 0 ? errno : 0;
    INFO("second send: " << std::strerror(error));
    CHECK(sent == ssize_t(late.size()));  // a reset would have failed it
  }
  SUBCASE("a client that keeps sending meets a reset past the bound") {
    const std::string chunk(64 * 1024, '\0');  // the server no longer parses: any bytes do
    size_t sent = 0;
    int error = 0;
    while (sent < 256u * 1024 * 1024) {  // far more than socket buffers hold
      pollfd p{peer.fd(), POLLOUT, 0};
      if (::poll(&p, 1, 2000) <= 0) break;
      const ssize_t n = ::send(peer.fd(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
      if (n < 0) {
        error = errno;
        break;
      }
      sent += static_cast<size_t>(n);
    }
    INFO("bytes the server's socket took: " << sent);
    CHECK((error == EPIPE || error == ECONNRESET));
  }
}

TEST_CASE(
    "lifetime: a client slow to take the last response of a finished connection gets all of "
    "it") {
  // A busy client may still be taking megabytes from the socket buffers well after the server
  // is done. Closing the socket then makes the client's next write (a WINDOW_UPDATE) meet a TCP
  // reset, which throws away what it had not read: grpcio under max_connection_age on a loaded
  // machine failed calls "Connection reset by peer" so. Here the server is shut down (its
  // final GOAWAY comes 1 s later at most, as this client answers no PING).
  const std::string big(2 << 20, 'r');
  auto ts = StartServer(
      [](ServerBuilder& b) { b.RegisterMethod("/t.F/Echo", RpcKind::kUnary, EchoHandler); });
  RawPeer peer(ts.port);
  REQUIRE(peer.connected());
  REQUIRE(peer.SendUnary(peer.NextStreamId(), "/t.F/Echo", big));
  std::this_thread::sleep_for(100ms);
  std::thread stopper([&] { ts.server->Shutdown(std::chrono::system_clock::now() + 30s); });
  // Reads at 640 KiB/s with a connection WINDOW_UPDATE after each read, as clients send: the
  // server's socket buffers hold more than a second of that when its last bytes are written.
  // (Half of what was read: the server has sent at least that much DATA, so the window the
  // peer opened at 2^31-1 cannot overflow.)
  std::vector<char> chunk(32 * 1024);
  size_t received = 0;
  int error = 0;
  bool eof = false;
  const auto give_up = Clock::now() + 20s;
  while (!eof && error == 0 && Clock::now() < give_up) {
    std::this_thread::sleep_for(50ms);
    const ssize_t n = ::recv(peer.fd(), chunk.data(), chunk.size(), MSG_DONTWAIT);
    if (n == 0) eof = true;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) error = errno;
    if (n <= 0) continue;
    received += static_cast<size_t>(n);
    if (received < 64 * 1024) continue;
    const std::string update = RawPeer::FrameBytes(
        kWindowUpdate, 0, 0, std::string{0, 0, char(n / 2 >> 8), char(n / 2 & 0xff)});
    if (::send(peer.fd(), update.data(), update.size(), MSG_NOSIGNAL) < 0) error = errno;
  }
  stopper.join();
  INFO("received " << received
                   << " bytes; error: " << std::string(error ? std::strerror(error) : "none"));
  CHECK(error == 0);
  CHECK(eof);
  CHECK(received > big.size());  // the response, then trailers, GOAWAYs and the FIN
}

TEST_CASE(
    "lifetime: at the end of the grace, running calls get UNAVAILABLE and finished ones keep "
    "their unread responses") {
  // Cutting the connection at the grace's end would reset the socket under responses the client
  // has not read yet, failing calls that had finished.
  const std::string big(1 << 20, 'g');
  auto ts = StartServer([](ServerBuilder& b) {
    b.options().max_connection_age = 200ms;
    b.options().max_connection_age_grace = 300ms;
    b.RegisterMethod("/t.F/Echo", RpcKind::kUnary, EchoHandler);
    b.RegisterMethod("/t.F/Hold", RpcKind::kBidiStreaming, [](ServerContext&, ServerCall& call) {
      std::string m;
      while (call.Read(&m)) {
      }
      return Status();
    });
  });
  RawPeer peer(ts.port);
  REQUIRE(peer.connected());
  const int32_t held = peer.NextStreamId();
  REQUIRE(peer.SendHeaders(held, GrpcRequest("/t.F/Hold"), false));
  const int32_t finished = peer.NextStreamId();
  REQUIRE(peer.SendUnary(finished, "/t.F/Echo", big));
  std::this_thread::sleep_for(1000ms);  // not reading: past the grace, within its flush time
  REQUIRE(peer.RunUntil([&] { return peer.closed(); }, 10000ms));
  CHECK(peer.stream(finished).GrpcStatus().ok());
  CHECK((peer.stream(finished).Messages() == std::vector<std::string>{big}));
  const Status held_status = peer.stream(held).GrpcStatus();
  CHECK(held_status.code() == StatusCode::kUnavailable);
  CHECK_MESSAGE(held_status.message().find("max_age") != std::string::npos, held_status.message());
}

TEST_CASE(
    "lifetime: after a max_connection_age notice, streams a slow client still opens are "
    "processed until its PING ACKs come") {
  // A client reading slowly sees the notice late (behind megabytes of responses) and opens
  // streams until it does. A final GOAWAY sent before its ACKs would refuse those streams for
  // it to retry, and some clients lose a streaming message when they retry (grpcio 1.51).
  auto ts = StartServer([](ServerBuilder& b) {
    b.options().max_connection_age = 100ms;
    b.options().max_connection_age_grace = 60s;
    b.RegisterMethod("/t.F/Echo", RpcKind::kUnary, EchoHandler);
  });
  RawPeer peer(ts.port);
  REQUIRE(peer.connected());
  peer.set_auto_ack(false);  // reads, but answers no PING: as if it had not read them yet
  CHECK(peer.Unary("/t.F/Echo", "a").GrpcStatus().ok());
  // Well past the notice (about 100 ms) plus one second.
  peer.RunUntil([] { return false; }, 1600ms);
  REQUIRE(peer.goaways().size() == 1);  // the notice only
  CHECK(peer.goaways()[0].first == 0x7fffffff);
  const StreamResult late = peer.Unary("/t.F/Echo", "b");
  CHECK(late.GrpcStatus().ok());
  CHECK((late.Messages() == std::vector<std::string>{"b"}));
}

TEST_CASE("lifetime: max_connection_age counts from the client's preface, not from the accept") {
  // A client whose event loop is busy when it connects (grpc-js with 200 calls queued) sends
  // its preface and first streams well after the kernel completed the connection. Counted from
  // the accept, a short age had the GOAWAY waiting for it: its first streams never left it and
  // came back refused, and grpc-js fails a call refused twice (grpc-go's server counts from the
  // preface too).
  auto ts = StartServer([](ServerBuilder& b) {
    b.options().max_connection_age = 300ms;  // ± 10 % jitter
    b.options().max_connection_age_grace = 60s;
    b.RegisterMethod("/t.F/Echo", RpcKind::kUnary, EchoHandler);
  });
  RawPeer peer(ts.port, "127.0.0.1", /*send_preface=*/false);
  REQUIRE(peer.connected());
  std::this_thread::sleep_for(600ms);  // the whole age, counted from the accept, and more
  REQUIRE(peer.SendPreface({}));
  const auto preface_sent = Clock::now();
  const StreamResult first = peer.Unary("/t.F/Echo", "a");
  CHECK(first.GrpcStatus().ok());
  CHECK((first.Messages() == std::vector<std::string>{"a"}));
  REQUIRE(peer.RunUntil([&] { return peer.goaway_received(); }, 5000ms));
  const auto notice_after = Clock::now() - preface_sent;
  INFO("notice " << std::chrono::duration_cast<std::chrono::milliseconds>(notice_after).count()
                 << " ms after the preface");
  CHECK(notice_after >= 250ms);  // 270 ms at the least, less the clocks' slack
  CHECK(peer.goaways().front().first == 0x7fffffff);
}

TEST_CASE("lifetime: max_connection_age 300 ms under load loses no call") {
  PeerLog log;
  auto ts = StartServer([&](ServerBuilder& b) {
    b.options().max_connection_age = 300ms;
    b.options().max_connection_age_grace = 5s;
    RegisterLoggedEcho(b, log);
  });
  auto channel = Channel::Create(Target(ts.port));
  std::atomic<int> calls{0}, failures{0};
  std::mutex first_failure_mutex;
  std::string first_failure;
  const auto record = [&](const Status& status) {
    calls.fetch_add(1);
    if (status.ok()) return;
    failures.fetch_add(1);
    std::lock_guard<std::mutex> lock(first_failure_mutex);
    if (first_failure.empty()) first_failure = status.ToString();
  };
  const auto until = Clock::now() + 3s;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      while (Clock::now() < until) record(Unary(*channel, "u"));
    });
  }
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      while (Clock::now() < until) {
        ClientContext context;
        context.set_timeout(20s);
        auto call = channel->StartCall(context, "/test.Echo/Bidi");
        std::string m;
        bool ok = true;
        for (int i = 0; i < 5 && ok; ++i) {  // ~100 ms per call, far below the grace
          ok = call->Write("s" + std::to_string(i)) && call->Read(&m) &&
               m == "s" + std::to_string(i);
          std::this_thread::sleep_for(20ms);
        }
        call->WritesDone();
        const Status status = call->Finish();
        record(ok || !status.ok() ? status : Status(StatusCode::kInternal, "stream broke"));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  MESSAGE(calls.load() << " calls over " << log.size() << " connections");
  CHECK_MESSAGE(failures.load() == 0, first_failure);
  CHECK(calls.load() > 20);
  CHECK(log.size() >= 3);  // several connections, one per age
}

TEST_CASE("lifetime: a call longer than max_connection_age + grace is cut off, clearly") {
  std::atomic<bool> ended{false}, saw_cancel{false};
  auto ts = StartServer([&](ServerBuilder& b) {
    b.options().max_connection_age = 200ms;
    b.options().max_connection_age_grace = 300ms;
    b.RegisterMethod("/test.K/Bidi", RpcKind::kBidiStreaming,
                     [&](ServerContext& context, ServerCall& call) {
                       std::string m;
                       while (call.Read(&m)) call.Write(m);
                       saw_cancel.store(context.IsCancelled());
                       ended.store(true);
                       return Status();
                     });
  });
  auto channel = Channel::Create(Target(ts.port));
  ClientContext context;
  auto call = channel->StartCall(context, "/test.K/Bidi");
  std::string m;
  REQUIRE(call->Write("x"));
  REQUIRE(call->Read(&m));
  const auto started = Clock::now();
  bool read_ok = true;
  CHECK(EndsWithin([&] { read_ok = call->Read(&m); }, [&] { context.TryCancel(); }, 15s));
  CHECK_FALSE(read_ok);
  CHECK(Clock::now() - started < 200ms * 11 / 10 + 300ms + 5s);
  const Status status = call->Finish();
  CHECK(status.code() == StatusCode::kUnavailable);
  CHECK_MESSAGE(status.message().find("max_age") != std::string::npos, status.message());
  REQUIRE(Eventually([&] { return ended.load(); }, 10000ms));
  CHECK(saw_cancel.load());
  // The channel carries on over a new connection.
  ClientContext next;
  auto again = channel->StartCall(next, "/test.K/Bidi");
  REQUIRE(again->Write("y"));
  REQUIRE(again->Read(&m));
  CHECK(m == "y");
  again->WritesDone();
  CHECK(again->Finish().ok());
}

}  // namespace
}  // namespace h2rpc::testing
