// A unity build puts a generated .cc and the code using its stubs in one translation unit: the
// generated .cc includes its header with H2RPC_GENERATED_SOURCE defined (declarations only), and
// a later include of the same header must still bring in Channel and the contexts. This file is
// that translation unit (compiling it is the test; the doctest case checks it also runs).
#define H2RPC_GENERATED_SOURCE
#include "codegen_test.h2rpc.h"
#undef H2RPC_GENERATED_SOURCE

#include "codegen_test.h2rpc.h"

#include <doctest/doctest.h>

#include <chrono>
#include <memory>

TEST_CASE("codegen: the generated header's second inclusion brings in the full client API") {
  // Complete types: a context with a deadline and a channel, as stub users write them.
  ::h2rpc::ClientContext context;
  context.set_timeout(std::chrono::milliseconds(50));
  std::shared_ptr<::h2rpc::Channel> channel = ::h2rpc::CreateChannel("127.0.0.1:1");
  auto stub = codegen::h2rpc::v1::Echo::NewStub(channel);
  CHECK(stub != nullptr);
}
