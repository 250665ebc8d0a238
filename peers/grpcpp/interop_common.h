// Shared bits of grpcpp-interop-server and grpcpp-interop-client.
#pragma once

#include <grpc/compression.h>
#include <grpc/grpc.h>

#include <cstdint>

// The public grpc++ API cannot tell whether a *received* message carried the
// gRPC "compressed" flag. libgrpc exports two test hooks for exactly this
// (declared in grpc's src/core/lib/surface/call_test_only.h with C++ linkage;
// gRPC's own interop client and server use them the same way). Debian's
// libgrpc.so 1.51 exports both symbols.
grpc_compression_algorithm grpc_call_test_only_get_compression_algorithm(grpc_call* call);
uint32_t grpc_call_test_only_get_message_flags(grpc_call* call);

namespace peers {

// Internal message-flag bits of grpc core (src/core/lib/transport/transport.h):
// a message received with the compressed flag keeps GRPC_WRITE_INTERNAL_COMPRESS
// until decompressed, after which GRPC_WRITE_INTERNAL_TEST_ONLY_WAS_COMPRESSED is
// set instead. Either bit means "arrived compressed".
constexpr uint32_t kWriteInternalCompress = 0x80000000u;
constexpr uint32_t kWriteInternalTestOnlyWasCompressed = 0x40000000u;

// Whether the last message received on `call` had its compressed flag set.
inline bool LastMessageWasCompressed(grpc_call* call) {
  return (grpc_call_test_only_get_message_flags(call) &
          (kWriteInternalCompress | kWriteInternalTestOnlyWasCompressed)) != 0;
}

// The message encoding announced by the peer (grpc-encoding) for this call.
inline grpc_compression_algorithm IncomingCompression(grpc_call* call) {
  return grpc_call_test_only_get_compression_algorithm(call);
}

inline constexpr char kEchoInitialKey[] = "x-grpc-test-echo-initial";
inline constexpr char kEchoTrailingBinKey[] = "x-grpc-test-echo-trailing-bin";

}  // namespace peers
