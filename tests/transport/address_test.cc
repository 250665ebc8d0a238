// Address parsing: host:port forms and gRPC's unix forms (unix:path, unix:///abs,
// unix-abstract:name), their limits, authority and peer strings.
#include "transport/address.h"

#include <doctest/doctest.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>
#include <string>

#include "transport/unix_address.h"

namespace h2rpc::transport {
namespace {

constexpr size_t kMaxName = sizeof(sockaddr_un::sun_path) - 1;  // 107 on Linux

const sockaddr_un& Un(const SocketAddress& a) {
  return *reinterpret_cast<const sockaddr_un*>(&a.storage);
}

TEST_CASE("address: unix: path forms parse to a sockaddr_un") {
  struct Case {
    const char* text;
    const char* path;
  };
  for (const Case& c :
       {Case{"unix:/tmp/a.sock", "/tmp/a.sock"}, Case{"unix:///tmp/a.sock", "/tmp/a.sock"},
        Case{"unix:relative/b.sock", "relative/b.sock"}, Case{"unix:c.sock", "c.sock"}}) {
    CAPTURE(c.text);
    for (auto parse : {&ParseTarget, &ParseListenAddress}) {
      StatusOr<HostPort> hp = parse(c.text);
      REQUIRE(hp.ok());
      REQUIRE(hp->unix_address.has_value());
      CHECK(hp->port == 0);
      const SocketAddress& a = *hp->unix_address;
      CHECK(a.family() == AF_UNIX);
      CHECK(std::string(Un(a).sun_path) == c.path);
      CHECK(a.length == offsetof(sockaddr_un, sun_path) + std::strlen(c.path) + 1);
      CHECK(a.ToString() == std::string("unix:") + c.path);
      StatusOr<std::vector<SocketAddress>> resolved = Resolve(*hp, /*passive=*/false);
      REQUIRE(resolved.ok());
      REQUIRE(resolved->size() == 1);
      CHECK((*resolved)[0].ToString() == a.ToString());
    }
  }
}

TEST_CASE("address: unix-abstract: keeps the name's exact bytes, NUL included") {
  const std::string name("h2\0rpc", 6);
  StatusOr<HostPort> hp = ParseTarget("unix-abstract:" + name);
  REQUIRE(hp.ok());
  REQUIRE(hp->unix_address.has_value());
  const SocketAddress& a = *hp->unix_address;
  CHECK(Un(a).sun_path[0] == '\0');
  CHECK(std::string(Un(a).sun_path + 1, name.size()) == name);
  CHECK(a.length == offsetof(sockaddr_un, sun_path) + 1 + name.size());  // no terminator
  CHECK(a.ToString() == "unix-abstract:" + name);
  // A name that looks like a path is still just a name.
  StatusOr<HostPort> slashy = ParseListenAddress("unix-abstract:/not/a/file");
  REQUIRE(slashy.ok());
  CHECK(slashy->unix_address->ToString() == "unix-abstract:/not/a/file");
}

TEST_CASE("address: unix names at and past the sockaddr_un limit") {
  const std::string longest_path = "/" + std::string(kMaxName - 1, 'p');
  CHECK(ParseTarget("unix:" + longest_path).ok());
  CHECK(ParseTarget("unix-abstract:" + std::string(kMaxName, 'n')).ok());
  for (const std::string& bad :
       {"unix:" + longest_path + "x", "unix:///" + std::string(kMaxName, 'p'),
        "unix-abstract:" + std::string(kMaxName + 1, 'n')}) {
    CAPTURE(bad);
    for (auto parse : {&ParseTarget, &ParseListenAddress}) {
      StatusOr<HostPort> hp = parse(bad);
      REQUIRE_FALSE(hp.ok());
      CHECK(hp.status().code() == StatusCode::kInvalidArgument);
      CHECK(hp.status().message().find(std::to_string(kMaxName)) != std::string::npos);
      CHECK(hp.status().message().find("sockaddr_un") != std::string::npos);
    }
  }
}

TEST_CASE("address: malformed unix addresses are INVALID_ARGUMENT with a reason") {
  struct Case {
    std::string text;
    const char* reason;
  };
  for (const Case& c : {Case{"unix:", "empty unix socket path"}, Case{"unix://", "absolute path"},
                        Case{"unix://host/tmp/x.sock", "no host"},
                        Case{"unix-abstract:", "empty abstract socket name"},
                        Case{std::string("unix:/tmp/a\0b", 13), "NUL"}}) {
    CAPTURE(c.text);
    StatusOr<HostPort> hp = ParseTarget(c.text);
    REQUIRE_FALSE(hp.ok());
    CHECK(hp.status().code() == StatusCode::kInvalidArgument);
    CHECK(hp.status().message().find(c.reason) != std::string::npos);
  }
}

TEST_CASE("address: :authority for each target form") {
  CHECK(TargetAuthority("localhost:50051") == "localhost:50051");
  CHECK(TargetAuthority("dns:127.0.0.1:1") == "127.0.0.1:1");
  CHECK(TargetAuthority("dns:///example.com:443") == "example.com:443");
  CHECK(TargetAuthority("unix:/tmp/x.sock") == "localhost");
  CHECK(TargetAuthority("unix:///tmp/x.sock") == "localhost");
  CHECK(TargetAuthority("unix-abstract:name") == "localhost");
}

TEST_CASE("address: host:port forms are unchanged") {
  StatusOr<HostPort> hp = ParseTarget("dns:///localhost:50051");
  REQUIRE(hp.ok());
  CHECK(hp->host == "localhost");
  CHECK(hp->port == 50051);
  CHECK_FALSE(hp->unix_address.has_value());
  CHECK(ParseTarget("no-port-here").status().code() == StatusCode::kInvalidArgument);
  StatusOr<HostPort> any = ParseListenAddress("[::]:0");
  REQUIRE(any.ok());
  CHECK(any->host.empty());
  // "unixish:1" is a host name, not the unix scheme.
  StatusOr<HostPort> host = ParseTarget("unixish:1");
  REQUIRE(host.ok());
  CHECK(host->host == "unixish");
}

}  // namespace
}  // namespace h2rpc::transport
