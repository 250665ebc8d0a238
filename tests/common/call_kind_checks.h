// Client side of tests/common/call_kind_handlers.h: one call of each kind through a Channel,
// checked against what those handlers answer (server streaming with RepeatNumbered(5)).
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "h2rpc.h"

namespace h2rpc::testing {

struct CallKindPaths {
  std::string unary;          // EchoEach
  std::string server_stream;  // RepeatNumbered(5)
  std::string client_stream;  // Concatenate
  std::string bidi;           // EchoEach
};

inline void CheckFourCallKinds(Channel& channel, const CallKindPaths& paths) {
  const auto deadline = [] { return std::chrono::system_clock::now() + std::chrono::seconds(10); };
  {
    ClientContext context;
    context.set_deadline(deadline());
    std::string reply;
    const Status status = channel.UnaryCall(context, paths.unary, "hello", &reply);
    REQUIRE_MESSAGE(status.ok(), status.ToString());
    CHECK(reply == "hello");
  }
  {
    ClientContext context;
    context.set_deadline(deadline());
    auto call = channel.StartCall(context, paths.server_stream);
    REQUIRE(call->Write("s"));
    REQUIRE(call->WritesDone());
    std::vector<std::string> got;
    std::string m;
    while (call->Read(&m)) got.push_back(m);
    CHECK(call->Finish().ok());
    CHECK(got == std::vector<std::string>{"s0", "s1", "s2", "s3", "s4"});
  }
  {
    ClientContext context;
    context.set_deadline(deadline());
    auto call = channel.StartCall(context, paths.client_stream);
    for (const char* part : {"a", "b", "c"}) REQUIRE(call->Write(part));
    REQUIRE(call->WritesDone());
    std::string m;
    REQUIRE(call->Read(&m));
    CHECK(m == "abc");
    CHECK(call->Finish().ok());
  }
  {
    ClientContext context;
    context.set_deadline(deadline());
    auto call = channel.StartCall(context, paths.bidi);
    std::string m;
    for (int i = 0; i < 10; ++i) {
      REQUIRE(call->Write("m" + std::to_string(i)));
      REQUIRE(call->Read(&m));
      CHECK(m == "m" + std::to_string(i));
    }
    REQUIRE(call->WritesDone());
    CHECK_FALSE(call->Read(&m));
    CHECK(call->Finish().ok());
  }
}

}  // namespace h2rpc::testing
