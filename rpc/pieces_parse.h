// Parsing a protobuf message straight from the pieces a large message arrived in (references
// into the transport's read buffers), so the parser's copy is the only one user space makes.
// Internal: not installed.
#pragma once

#include <span>

#include "codec/status.h"
#include "transport/payload_pieces.h"

namespace google::protobuf {
class MessageLite;
}

namespace h2rpc::internal {

/// INTERNAL "failed to parse <type>" when the bytes are not a `message`.
Status ParsePieces(std::span<const transport::PayloadPiece> pieces,
                   google::protobuf::MessageLite* message);

/// Parses; on failure records the first error in `*error` and returns false.
bool ParsePiecesIntoOrFail(std::span<const transport::PayloadPiece> pieces,
                           google::protobuf::MessageLite* message, Status* error);

}  // namespace h2rpc::internal
