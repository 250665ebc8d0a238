// Transparent retry: calls a GOAWAY says the server never processed (stream id above its
// last_stream_id) start again on a new connection when nothing of them is lost by it (a unary
// request is kept in the call; a streaming call keeps the messages it sent until the response
// headers, up to 64 KiB). A stream reset with REFUSED_STREAM (processed by nobody) is started
// once more.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "h2rpc.h"
#include "tests/rpc/client_fake_server.h"

namespace h2rpc::testing {
namespace {

using namespace std::chrono_literals;

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return done();
}

Status Unary(Channel& channel, const std::string& request, std::string* reply,
             const std::string& path) {
  ClientContext context;
  context.set_timeout(20s);
  return channel.UnaryCall(context, path, request, reply);
}

TEST_CASE("client: unary calls above a GOAWAY's last_stream_id are retried on a new connection") {
  FakeServer server;
  FakeServer::Connection* first = nullptr;  // server thread only
  std::vector<FakeServer::Stream*> held;    // server lock
  server.on_end = [&](FakeServer::Stream& s) {
    if (first == nullptr) first = s.connection;
    if (s.connection == first) {
      server.Locked([&] { held.push_back(&s); });
      return;
    }
    for (std::string& m : server.Locked([&] { return s.TakeMessages(); })) server.SendMessage(s, m);
    server.SendStatus(s, 0);
  };
  auto channel = Channel::Create(server.target());
  std::vector<std::thread> callers;
  std::vector<Status> statuses(3);
  std::vector<std::string> replies(3);
  for (int i = 0; i < 3; ++i) {
    callers.emplace_back([&, i] {
      statuses[i] = Unary(*channel, "m" + std::to_string(i), &replies[i], "/test.R/Unary");
    });
  }
  REQUIRE(WaitUntil([&] { return server.Locked([&] { return held.size(); }) == 3; }, 10000ms));
  server.Post([&] {
    std::vector<FakeServer::Stream*> streams = server.Locked([&] { return held; });
    std::sort(streams.begin(), streams.end(), [](auto* a, auto* b) { return a->id < b->id; });
    server.Goaway(*first, 0, streams[0]->id);
    for (std::string& m : server.Locked([&] { return streams[0]->TakeMessages(); })) {
      server.SendMessage(*streams[0], m);
    }
    server.SendStatus(*streams[0], 0);
  });
  for (auto& caller : callers) caller.join();
  for (int i = 0; i < 3; ++i) {
    CHECK_MESSAGE(statuses[i].ok(), statuses[i].ToString());
    CHECK(replies[i] == "m" + std::to_string(i));
  }
  CHECK(server.connections_accepted() == 2);
}

TEST_CASE("client: after GOAWAY a streaming call is retried with what it sent, up to 64 KiB") {
  FakeServer server;
  FakeServer::Connection* first = nullptr;  // server thread only
  std::vector<FakeServer::Stream*> seen;    // server lock: streams of the first connection
  server.on_headers = [&](FakeServer::Stream& s) {
    if (first == nullptr) first = s.connection;
    if (s.connection == first) server.Locked([&] { seen.push_back(&s); });
  };
  server.on_data = [&](FakeServer::Stream& s) {
    if (s.connection == first) return;
    for (std::string& m : server.Locked([&] { return s.TakeMessages(); })) server.SendMessage(s, m);
  };
  server.on_end = [&](FakeServer::Stream& s) {
    if (s.connection != first) server.SendStatus(s, 0);
  };
  const auto seen_count = [&] { return server.Locked([&] { return seen.size(); }); };
  auto channel = Channel::Create(server.target());
  ClientContext anchor_context, quiet_context, sent_context;
  auto anchor = channel->StartCall(anchor_context, "/test.R/Bidi");  // processed by the server
  REQUIRE(WaitUntil([&] { return seen_count() == 1; }, 10000ms));
  auto quiet = channel->StartCall(quiet_context, "/test.R/Bidi");  // HEADERS only
  REQUIRE(WaitUntil([&] { return seen_count() == 2; }, 10000ms));
  auto sent = channel->StartCall(sent_context, "/test.R/Bidi");
  REQUIRE(sent->Write("sent twice"));
  REQUIRE(sent->Write("and so was this"));
  REQUIRE(WaitUntil(
      [&] { return server.Locked([&] { return seen.size() == 3 && seen[2]->body_bytes > 0; }); },
      10000ms));
  // More than the 64 KiB a call keeps for a retry: this one cannot be sent again.
  ClientContext big_context;
  auto big = channel->StartCall(big_context, "/test.R/Bidi");
  const std::string chunk(40 * 1024, 'b');
  REQUIRE(big->Write(chunk));
  REQUIRE(big->Write(chunk));
  REQUIRE(WaitUntil(
      [&] {
        return server.Locked([&] { return seen.size() == 4 && seen[3]->body_bytes > 64 * 1024; });
      },
      10000ms));
  server.Post([&] { server.Goaway(*first, 0, server.Locked([&] { return seen[0]->id; })); });
  // The quiet call moves to a new connection (the only reason to open one) and works there.
  REQUIRE(WaitUntil([&] { return server.connections_accepted() == 2; }, 10000ms));
  std::string m;
  REQUIRE(quiet->Write("q"));
  REQUIRE(quiet->Read(&m));
  CHECK(m == "q");
  quiet->WritesDone();
  CHECK(quiet->Finish().ok());
  // The one whose messages left with the old stream sends them again, in order, then goes on.
  REQUIRE(sent->Read(&m));
  CHECK(m == "sent twice");
  REQUIRE(sent->Read(&m));
  CHECK(m == "and so was this");
  REQUIRE(sent->Write("after the move"));
  REQUIRE(sent->Read(&m));
  CHECK(m == "after the move");
  sent->WritesDone();
  CHECK(sent->Finish().ok());
  // The big one cannot: replaying only part of what it sent would change the call.
  CHECK_FALSE(big->Read(&m));
  const Status lost = big->Finish();
  CHECK(lost.code() == StatusCode::kUnavailable);
  CHECK(lost.message().find("GOAWAY") != std::string::npos);
  // The processed call still ends normally on the draining connection.
  anchor->WritesDone();
  server.Post([&] { server.SendStatus(*server.Locked([&] { return seen[0]; }), 0); });
  CHECK(anchor->Finish().ok());
  CHECK(server.connections_accepted() == 2);
}

TEST_CASE("client: a call refused with REFUSED_STREAM is started once more, then fails") {
  FakeServer server;
  std::vector<std::string> bodies;  // server lock: the request of each stream that ended
  int refuse_first = 0;             // server lock: how many streams to refuse
  server.on_end = [&](FakeServer::Stream& s) {
    std::vector<std::string> messages = server.Locked([&] { return s.TakeMessages(); });
    const bool refuse = server.Locked([&] {
      bodies.push_back(messages.empty() ? std::string("<none>") : messages[0]);
      return refuse_first-- > 0;
    });
    if (refuse) {
      server.Reset(s, 0x7);  // REFUSED_STREAM
      return;
    }
    for (std::string& m : messages) server.SendMessage(s, m);
    server.SendStatus(s, 0);
  };
  auto channel = Channel::Create(server.target());
  std::string reply;

  SUBCASE("refused once: the second attempt answers, the caller sees nothing of it") {
    server.Locked([&] { refuse_first = 1; });
    const Status status = Unary(*channel, "again", &reply, "/test.R/Unary");
    CHECK_MESSAGE(status.ok(), status.ToString());
    CHECK(reply == "again");
    server.Locked([&] { CHECK(bodies == std::vector<std::string>{"again", "again"}); });
  }
  SUBCASE("refused twice: UNAVAILABLE after exactly two attempts") {
    server.Locked([&] { refuse_first = 100; });
    const Status status = Unary(*channel, "no", &reply, "/test.R/Unary");
    CHECK(status.code() == StatusCode::kUnavailable);
    CHECK_MESSAGE(status.message().find("REFUSED_STREAM") != std::string::npos, status.message());
    server.Locked([&] { CHECK(bodies.size() == 2); });
    // Each call gets its own single retry: the next one is tried twice too.
    CHECK(Unary(*channel, "no", &reply, "/test.R/Unary").code() == StatusCode::kUnavailable);
    server.Locked([&] { CHECK(bodies.size() == 4); });
  }
  CHECK(server.connections_accepted() == 1);
}

}  // namespace
}  // namespace h2rpc::testing
