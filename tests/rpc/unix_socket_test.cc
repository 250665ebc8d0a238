// Unix-domain sockets end to end: h2rpc Channel and Server over "unix:" paths and
// "unix-abstract:" names, the socket file's life (stale file from a crashed server, a live
// server, a file that is not a socket, removal on shutdown) and client errors and reconnects.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "h2rpc.h"
#include "tests/common/call_kind_checks.h"
#include "tests/common/call_kind_handlers.h"

namespace h2rpc::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

/// A fresh directory under /tmp (short paths: sun_path holds 107 bytes), removed at the end.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/h2rpc-uds-XXXXXX";
    const char* made = mkdtemp(pattern);
    REQUIRE(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// An abstract name no other test process uses.
std::string UniqueAbstractName(const char* tag) {
  static std::atomic<int> counter{0};
  return std::string("h2rpc-test-") + tag + "-" + std::to_string(getpid()) + "-" +
         std::to_string(counter.fetch_add(1));
}

bool IsSocketFile(const std::string& path) {
  struct stat info {};
  return lstat(path.c_str(), &info) == 0 && S_ISSOCK(info.st_mode);
}

/// What a server that crashed leaves behind: a bound socket file nobody listens on.
void LeaveStaleSocketFile(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(listen(fd, 1) == 0);
  close(fd);  // no unlink: the file stays, and connect() to it is refused
  REQUIRE(IsSocketFile(path));
}

/// Echo for every kind, plus /test.U/Who answering "authority|peer" of the call.
void RegisterMethods(ServerBuilder& b) {
  b.RegisterMethod("/test.U/Unary", RpcKind::kUnary, EchoEach);
  b.RegisterMethod("/test.U/Bidi", RpcKind::kBidiStreaming, EchoEach);
  b.RegisterMethod("/test.U/ServerStream", RpcKind::kServerStreaming, RepeatNumbered(5));
  b.RegisterMethod("/test.U/ClientStream", RpcKind::kClientStreaming, Concatenate);
  b.RegisterMethod("/test.U/Who", RpcKind::kUnary, [](ServerContext& ctx, ServerCall& call) {
    std::string m;
    call.Read(&m);
    call.Write(ctx.authority() + "|" + ctx.peer());
    return Status();
  });
}

struct Served {
  std::unique_ptr<Server> server;
  Status error;
  int port = -1;
};

Served Serve(const std::string& address) {
  ServerBuilder builder;
  Served served;
  builder.AddListeningPort(address, &served.port);
  RegisterMethods(builder);
  served.server = builder.BuildAndStart();
  served.error = builder.error();
  return served;
}

Status Unary(Channel& channel, const std::string& request = "ping", std::string* reply = nullptr,
             ClientContext* context = nullptr) {
  ClientContext local;
  ClientContext& ctx = context != nullptr ? *context : local;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  std::string ignored;
  return channel.UnaryCall(ctx, "/test.U/Unary", request, reply != nullptr ? reply : &ignored);
}

const CallKindPaths kPaths{"/test.U/Unary", "/test.U/ServerStream", "/test.U/ClientStream",
                           "/test.U/Bidi"};

/// Calls /test.U/Who: what the server saw as :authority and peer.
std::string Who(Channel& channel, ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  std::string reply;
  Status s = channel.UnaryCall(context, "/test.U/Who", "", &reply);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return reply;
}

TEST_CASE("unix sockets: the four call kinds, authority and peers over each address form") {
  TempDir dir;
  SUBCASE("unix:/absolute/path") {
    const std::string path = dir.File("abs.sock");
    Served served = Serve("unix:" + path);
    REQUIRE_MESSAGE(served.server != nullptr, served.error.ToString());
    CHECK(served.port == 0);
    CHECK(served.server->ports() == std::vector<int>{0});
    CHECK(IsSocketFile(path));
    auto channel = Channel::Create("unix:" + path);
    CheckFourCallKinds(*channel, kPaths);
    ClientContext context;
    CHECK(Who(*channel, context) == "localhost|unix:");  // the client's socket has no name
    CHECK(context.peer() == "unix:" + path);
  }
  SUBCASE("unix:///absolute/path") {
    const std::string path = dir.File("uri.sock");
    Served served = Serve("unix://" + path);
    REQUIRE_MESSAGE(served.server != nullptr, served.error.ToString());
    auto channel = Channel::Create("unix://" + path);
    CheckFourCallKinds(*channel, kPaths);
    ClientContext context;
    CHECK(Who(*channel, context) == "localhost|unix:");
    CHECK(context.peer() == "unix:" + path);
  }
  SUBCASE("unix:relative/path") {
    const std::string relative = fs::relative(dir.File("rel.sock"), fs::current_path()).string();
    REQUIRE(relative.front() != '/');
    Served served = Serve("unix:" + relative);
    REQUIRE_MESSAGE(served.server != nullptr, served.error.ToString());
    CHECK(IsSocketFile(dir.File("rel.sock")));
    auto channel = Channel::Create("unix:" + relative);
    CheckFourCallKinds(*channel, kPaths);
    ClientContext context;
    Who(*channel, context);
    CHECK(context.peer() == "unix:" + relative);
  }
  SUBCASE("unix-abstract:name with a NUL byte inside") {
    const std::string name = UniqueAbstractName("kinds") + std::string("\0tail", 5);
    Served served = Serve("unix-abstract:" + name);
    REQUIRE_MESSAGE(served.server != nullptr, served.error.ToString());
    CHECK(served.server->ports() == std::vector<int>{0});
    // The name is exact: its prefix up to the NUL is a different, unbound name.
    auto prefix_only = Channel::Create("unix-abstract:" + name.substr(0, name.find('\0')));
    CHECK(Unary(*prefix_only).code() == StatusCode::kUnavailable);
    auto channel = Channel::Create("unix-abstract:" + name);
    CheckFourCallKinds(*channel, kPaths);
    ClientContext context;
    CHECK(Who(*channel, context) == "localhost|unix:");
    CHECK(context.peer() == "unix-abstract:" + name);
  }
}

TEST_CASE("unix sockets: large messages and many concurrent calls (flow control unchanged)") {
  TempDir dir;
  const std::string target = "unix:" + dir.File("flow.sock");
  ServerBuilder builder;
  builder.AddListeningPort(target);
  builder.SetMaxReceiveMessageSize(-1);
  builder.SetMaxSendMessageSize(-1);
  // Small windows: the 6 MiB messages need many WINDOW_UPDATEs each way.
  builder.options().stream_window = 65535;
  builder.options().connection_window = 65535 * 2;
  RegisterMethods(builder);
  auto server = builder.BuildAndStart();
  REQUIRE_MESSAGE(server != nullptr, builder.error().ToString());
  ChannelOptions options;
  options.max_receive_message_size = 16 * 1024 * 1024;
  options.stream_window = 65535;
  options.connection_window = 65535 * 2;
  auto channel = Channel::Create(target, options);
  std::string big(6 * 1024 * 1024, 'x');
  for (size_t i = 0; i < big.size(); i += 4093) big[i] = static_cast<char>('a' + i % 26);
  {
    ClientContext context;
    auto call = channel->StartCall(context, "/test.U/Bidi");
    std::string m;
    for (int i = 0; i < 3; ++i) {
      REQUIRE(call->Write(big));
      REQUIRE(call->Read(&m));
      CHECK(m == big);
    }
    REQUIRE(call->WritesDone());
    CHECK(call->Finish().ok());
  }
  constexpr int kThreads = 8;
  constexpr int kCallsEach = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCallsEach; ++i) {
        const std::string request = std::to_string(t) + ":" + std::to_string(i);
        std::string reply;
        if (!Unary(*channel, request, &reply).ok() || reply != request) failures.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(failures.load() == 0);
}

TEST_CASE("unix sockets: a stale socket file from a crashed server is replaced") {
  TempDir dir;
  const std::string path = dir.File("stale.sock");
  LeaveStaleSocketFile(path);
  Served served = Serve("unix:" + path);
  REQUIRE_MESSAGE(served.server != nullptr, served.error.ToString());
  auto channel = Channel::Create("unix:" + path);
  CHECK(Unary(*channel).ok());
}

TEST_CASE("unix sockets: a second server on a live path fails 'address in use'") {
  TempDir dir;
  const std::string path = dir.File("live.sock");
  Served first = Serve("unix:" + path);
  REQUIRE_MESSAGE(first.server != nullptr, first.error.ToString());
  Served second = Serve("unix:" + path);
  CHECK(second.server == nullptr);
  CHECK(second.error.code() == StatusCode::kUnavailable);
  CHECK(second.error.message().find("address in use") != std::string::npos);
  CHECK(second.error.message().find(path) != std::string::npos);
  // The first server still owns the path and serves on it.
  CHECK(IsSocketFile(path));
  auto channel = Channel::Create("unix:" + path);
  CHECK(Unary(*channel).ok());
  SUBCASE("the same for an abstract name") {
    const std::string name = UniqueAbstractName("live");
    Served a = Serve("unix-abstract:" + name);
    REQUIRE_MESSAGE(a.server != nullptr, a.error.ToString());
    Served b = Serve("unix-abstract:" + name);
    CHECK(b.server == nullptr);
    CHECK(b.error.code() == StatusCode::kUnavailable);
    CHECK(b.error.message().find("unix-abstract:" + name) != std::string::npos);
  }
}

TEST_CASE("unix sockets: a file that is not a socket is neither used nor deleted") {
  TempDir dir;
  const std::string path = dir.File("notes.txt");
  { std::ofstream(path) << "precious"; }
  Served served = Serve("unix:" + path);
  CHECK(served.server == nullptr);
  CHECK(served.error.code() == StatusCode::kUnavailable);
  CHECK(served.error.message().find("not a socket") != std::string::npos);
  std::ifstream in(path);
  std::string content;
  std::getline(in, content);
  CHECK(content == "precious");
}

TEST_CASE("unix sockets: the socket file is removed on shutdown, and only if still ours") {
  TempDir dir;
  const std::string path = dir.File("mine.sock");
  SUBCASE("removed") {
    Served served = Serve("unix:" + path);
    REQUIRE_MESSAGE(served.server != nullptr, served.error.ToString());
    REQUIRE(IsSocketFile(path));
    served.server->Shutdown();
    CHECK_FALSE(fs::exists(path));
  }
  SUBCASE("removed when a later port fails and the build is undone") {
    ServerBuilder builder;
    builder.AddListeningPort("unix:" + path);
    builder.AddListeningPort("unix:" + dir.File(std::string(200, 'x')));
    RegisterMethods(builder);
    CHECK(builder.BuildAndStart() == nullptr);
    CHECK(builder.error().code() == StatusCode::kInvalidArgument);
    CHECK_FALSE(fs::exists(path));
  }
  SUBCASE("a file that replaced ours is left alone") {
    Served served = Serve("unix:" + path);
    REQUIRE_MESSAGE(served.server != nullptr, served.error.ToString());
    REQUIRE(unlink(path.c_str()) == 0);
    LeaveStaleSocketFile(path);  // someone else's socket file now
    served.server->Shutdown();
    CHECK(IsSocketFile(path));
  }
}

TEST_CASE("unix sockets: names too long for sockaddr_un are INVALID_ARGUMENT on both sides") {
  const std::string too_long = "/tmp/" + std::string(120, 'l') + ".sock";
  for (const std::string& address :
       {"unix:" + too_long, "unix-abstract:" + std::string(108, 'a')}) {
    CAPTURE(address);
    Served served = Serve(address);
    CHECK(served.server == nullptr);
    CHECK(served.error.code() == StatusCode::kInvalidArgument);
    CHECK(served.error.message().find("more than the 107") != std::string::npos);
    auto channel = Channel::Create(address);
    Status s = Unary(*channel);
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(s.message().find("more than the 107") != std::string::npos);
    ClientContext context;
    auto call = channel->StartCall(context, "/test.U/Bidi");
    CHECK(call->Finish().code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("unix sockets: a missing path fails UNAVAILABLE, then the client reconnects") {
  TempDir dir;
  const std::string path = dir.File("later.sock");
  ChannelOptions options;
  options.backoff_initial = 50ms;
  options.backoff_max = 200ms;
  auto channel = Channel::Create("unix:" + path, options);
  Status missing = Unary(*channel);
  CHECK(missing.code() == StatusCode::kUnavailable);
  CHECK(missing.message().find(path) != std::string::npos);
  CHECK(missing.message().find("No such file or directory") != std::string::npos);
  Served served = Serve("unix:" + path);
  REQUIRE_MESSAGE(served.server != nullptr, served.error.ToString());
  // Calls during the backoff still fail fast; one after it connects. Bounded wait.
  Status last;
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < until) {
    last = Unary(*channel);
    if (last.ok()) break;
    std::this_thread::sleep_for(20ms);
  }
  CHECK_MESSAGE(last.ok(), last.ToString());
  SUBCASE("and again after the server restarts on the same path") {
    served.server->Shutdown();
    served = Serve("unix:" + path);
    REQUIRE_MESSAGE(served.server != nullptr, served.error.ToString());
    const auto again_until = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < again_until) {
      last = Unary(*channel);
      if (last.ok()) break;
      std::this_thread::sleep_for(20ms);
    }
    CHECK_MESSAGE(last.ok(), last.ToString());
  }
}

}  // namespace
}  // namespace h2rpc::testing
