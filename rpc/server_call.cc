#include "rpc/server_call.h"

#include <algorithm>
#include <climits>
#include <utility>

#include <google/protobuf/message_lite.h>

#include "codec/compression.h"
#include "codec/framing.h"
#include "rpc/pieces_parse.h"
#include "rpc/serialization.h"
#include "rpc/server_call_state.h"
#include "rpc/server_context.h"
#include "rpc/server_impl.h"
#include "transport/buffer_pool.h"
#include "transport/payload_pieces.h"

namespace h2rpc {

ServerCall::ServerCall(std::shared_ptr<internal::ServerCallState> state)
    : state_(std::move(state)) {}

ServerCall::~ServerCall() = default;

bool ServerCall::Read(std::string* message) { return ReadInto(message, nullptr); }

bool ServerCall::internal_read_message(google::protobuf::MessageLite* message, std::string* scratch,
                                       Status* parse_error) {
  std::unique_ptr<transport::PayloadPieces> pieces;
  if (!ReadInto(scratch, &pieces)) return false;
  if (pieces == nullptr) return internal::ParseIntoOrFail(*scratch, message, parse_error);
  return internal::ParsePiecesIntoOrFail(*pieces, message, parse_error);
}

bool ServerCall::ReadInto(std::string* message, std::unique_ptr<transport::PayloadPieces>* pieces) {
  transport::RequestMessage m;
  if (!state_->Read(&m)) return false;
  if (m.pieces != nullptr) {
    if (pieces != nullptr) {
      *pieces = std::move(m.pieces);
    } else {
      // One copy instead of the parse-in-place: into a pooled buffer, like the deframer's.
      std::string flat = state_->server().large_buffers()->TakeOrEmpty();
      transport::FlattenPieces(*m.pieces, &flat);
      internal_recycle_buffer(std::exchange(*message, std::move(flat)));
    }
  } else if (m.compressed) {
    // The deframer only lets a compressed flag through when the request named a grpc-encoding
    // we implement. Inflation runs here, on the handler's thread, never on the I/O thread; its
    // output is bounded by the same limit as plain messages (gzip bombs → RESOURCE_EXHAUSTED).
    auto raw = codec::Decompress(*state_->head().encoding, m.payload,
                                 state_->server().options().max_receive_message_size);
    if (!raw.ok()) {
      state_->FailCall(raw.status());
      return false;
    }
    *message = std::move(*raw);
  } else {
    // The string's old buffer (a message the handler already parsed, when it reads into the
    // same string each time) goes to the server's pool, where the deframers find it for the
    // next large message.
    internal_recycle_buffer(std::move(*message));
    *message = std::move(m.payload);
  }
  if (state_->context != nullptr)
    state_->context->internal_set_last_message_compressed(m.compressed);
  return true;
}

void ServerCall::internal_recycle_buffer(std::string&& buffer) {
  state_->server().large_buffers()->Give(std::move(buffer));
}

bool ServerCall::CheckSendSize(size_t size) {
  const ServerOptions& server_options = state_->server().options();
  // The frame prefix holds 32 bits; protobuf serializes at most INT_MAX bytes.
  const size_t limit = std::min<size_t>(server_options.max_send_message_size, INT_MAX);
  if (size <= limit) return true;
  state_->FailCall(Status(StatusCode::kResourceExhausted,
                          "response message of " + std::to_string(size) +
                              " bytes exceeds the server's max send message size (" +
                              std::to_string(limit) + ")"));
  return false;
}

bool ServerCall::SubmitFramed(std::shared_ptr<std::string> framed) {
  const RpcKind kind = state_->method->kind;
  const bool single_response = kind == RpcKind::kUnary || kind == RpcKind::kClientStreaming;
  return state_->Write(std::move(framed), /*may_hold=*/single_response);
}

bool ServerCall::Write(std::string_view message, const WriteOptions& options) {
  if (state_->IsDone()) return false;
  if (!CheckSendSize(message.size())) return false;
  state_->FreezeCompression();
  const codec::Compression c = state_->response_compression();
  std::string compressed;
  std::string_view payload = message;
  const bool compress = c != codec::Compression::kIdentity && !options.no_compression;
  if (compress) {
    auto z = codec::Compress(c, message);
    if (!z.ok()) {
      state_->FailCall(z.status());
      return false;
    }
    compressed = std::move(*z);
    payload = compressed;
  }
  // One buffer with prefix and payload: nghttp2 frames it without another copy.
  auto framed = std::make_shared<std::string>();
  framed->reserve(codec::kFramePrefixSize + payload.size());
  uint8_t prefix[codec::kFramePrefixSize];
  codec::EncodeFramePrefix(compress, static_cast<uint32_t>(payload.size()), prefix);
  framed->append(reinterpret_cast<const char*>(prefix), sizeof prefix);
  framed->append(payload);
  return SubmitFramed(std::move(framed));
}

bool ServerCall::WriteMessage(const google::protobuf::MessageLite& message,
                              const WriteOptions& options) {
  if (state_->IsDone()) return false;
  state_->FreezeCompression();
  if (state_->response_compression() != codec::Compression::kIdentity && !options.no_compression) {
    std::string bytes;  // compression needs the serialized bytes first
    if (Status s = internal::Serialize(message, &bytes); !s.ok()) {
      state_->FailCall(std::move(s));
      return false;
    }
    return Write(bytes, options);
  }
  const size_t size = message.ByteSizeLong();  // caches sizes for the serializer below
  if (!CheckSendSize(size)) return false;
  std::shared_ptr<std::string> framed =
      transport::MakeSendBuffer(state_->server().large_buffers(), codec::kFramePrefixSize + size);
  auto* data = reinterpret_cast<uint8_t*>(framed->data());
  codec::EncodeFramePrefix(false, static_cast<uint32_t>(size), data);
  message.SerializeWithCachedSizesToArray(data + codec::kFramePrefixSize);
  return SubmitFramed(std::move(framed));
}

bool ServerCall::SendInitialMetadata() {
  state_->FreezeCompression();
  return state_->SendHeaders();
}

}  // namespace h2rpc
