// gRPC Length-Prefixed-Message framing and the incremental Deframer state machine.
//
// Memory bound: a payload buffer is reserved at min(claimed length, kDeframerInitialReserve) and
// then grows geometrically but never beyond the claimed length, which was already checked against
// max_message_size. So a hostile prefix costs nothing until the bytes it claims actually arrive.
#include "codec/framing.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

namespace h2rpc::codec {

void EncodeFramePrefix(bool compressed, uint32_t length, uint8_t out[kFramePrefixSize]) {
  out[0] = compressed ? 1 : 0;
  out[1] = static_cast<uint8_t>(length >> 24);
  out[2] = static_cast<uint8_t>(length >> 16);
  out[3] = static_cast<uint8_t>(length >> 8);
  out[4] = static_cast<uint8_t>(length);
}

std::string EncodeFrame(std::string_view payload, bool compressed) {
  if (payload.size() > kMaxFramePayload) return {};
  std::string out(kFramePrefixSize + payload.size(), '\0');
  EncodeFramePrefix(compressed, static_cast<uint32_t>(payload.size()),
                    reinterpret_cast<uint8_t*>(out.data()));
  if (!payload.empty()) std::memcpy(out.data() + kFramePrefixSize, payload.data(), payload.size());
  return out;
}

size_t Deframer::Feed(std::span<const uint8_t> data) {
  size_t used = 0;
  while (used < data.size()) {
    const size_t left = data.size() - used;
    switch (state_) {
      case State::kMessageReady:  // the caller must take it first
      case State::kFailed:
        return used;
      case State::kReadPrefix: {
        const size_t n = std::min<size_t>(kFramePrefixSize - prefix_have_, left);
        std::memcpy(prefix_ + prefix_have_, data.data() + used, n);
        prefix_have_ = static_cast<uint8_t>(prefix_have_ + n);
        used += n;
        if (prefix_have_ == kFramePrefixSize) OnPrefixComplete();
        break;
      }
      case State::kSinkPayload: {
        const size_t n = std::min<size_t>(current_length_ - sunk_, left);
        hooks_->take_payload(hooks_context_, data.data() + used, n);
        sunk_ += static_cast<uint32_t>(n);
        used += n;
        if (sunk_ == current_length_) state_ = State::kMessageReady;
        break;
      }
      case State::kReadPayload: {
        const size_t n = std::min<size_t>(current_length_ - current_.size(), left);
        AppendPayload(data.data() + used, n);
        used += n;
        if (current_.size() == current_length_) state_ = State::kMessageReady;
        break;
      }
    }
  }
  return used;
}

void Deframer::OnPrefixComplete() {
  const uint8_t flag = prefix_[0];
  const uint32_t length = (uint32_t{prefix_[1]} << 24) | (uint32_t{prefix_[2]} << 16) |
                          (uint32_t{prefix_[3]} << 8) | uint32_t{prefix_[4]};
  if (flag > 1) {
    Fail(Status(StatusCode::kInternal, "invalid compressed flag " + std::to_string(flag) +
                                           " in message prefix (must be 0 or 1)"));
    return;
  }
  if (flag == 1 && !compression_negotiated_) {
    Fail(Status(StatusCode::kInternal,
                "received a compressed message but no grpc-encoding was negotiated"));
    return;
  }
  // The limit is checked here, before a single payload byte is buffered (grpc-go's wording).
  if (length > max_message_size_) {
    Fail(Status(StatusCode::kResourceExhausted, "received message larger than max (" +
                                                    std::to_string(length) + " vs. " +
                                                    std::to_string(max_message_size_) + ")"));
    return;
  }
  current_compressed_ = flag == 1;
  current_length_ = length;
  sunk_ = 0;
  if (length > kDeframerInitialReserve && !current_compressed_ && hooks_ != nullptr &&
      hooks_->take_payload != nullptr) {
    state_ = State::kSinkPayload;
    return;
  }
  if (length > kDeframerInitialReserve && spare_.capacity() < length && hooks_ != nullptr &&
      hooks_->take_buffer != nullptr) {
    std::string pooled = hooks_->take_buffer(hooks_context_);
    if (pooled.capacity() > spare_.capacity()) spare_ = std::move(pooled);
  }
  // A spare smaller than the claim still saves the first doublings; AppendPayload grows it.
  if (length > kDeframerInitialReserve && spare_.capacity() > kDeframerInitialReserve) {
    current_ = std::exchange(spare_, std::string());
    current_.clear();
  } else {
    current_.clear();
    current_.reserve(std::min<size_t>(length, kDeframerInitialReserve));
  }
  state_ = length == 0 ? State::kMessageReady : State::kReadPayload;
}

void Deframer::AppendPayload(const uint8_t* data, size_t n) {
  // Grow by doubling, capped at the claimed length (which already passed the max-size check).
  // A fresh string gets exactly the capacity asked for, whereas growing in place lets
  // libstdc++ round up to twice the old capacity, past the claimed length.
  const size_t needed = current_.size() + n;
  if (needed > current_.capacity()) {
    std::string grown;
    grown.reserve(std::max(needed, std::min<size_t>(current_.capacity() * 2, current_length_)));
    grown.append(current_);
    current_.swap(grown);
  }
  current_.append(reinterpret_cast<const char*>(data), n);
}

void Deframer::Fail(Status status) {
  status_ = std::move(status);
  state_ = State::kFailed;
  std::string().swap(current_);  // release the buffers: a failed stream holds no payload memory
  std::string().swap(spare_);
}

void Deframer::RecycleBuffer(std::string&& buffer) {
  if (!wants_buffer() || buffer.capacity() <= kDeframerInitialReserve) return;
  spare_ = std::move(buffer);
}

std::optional<DeframedMessage> Deframer::Next() {
  if (state_ != State::kMessageReady) return std::nullopt;
  DeframedMessage message{current_compressed_, sunk_ != 0, std::move(current_)};
  current_ = std::string();
  current_length_ = 0;
  sunk_ = 0;
  current_compressed_ = false;
  prefix_have_ = 0;
  state_ = State::kReadPrefix;
  return message;
}

Status Deframer::Finish() const {
  switch (state_) {
    case State::kFailed:
      return status_;
    case State::kMessageReady:
      return Status::Ok();
    case State::kReadPrefix:
      if (prefix_have_ == 0) return Status::Ok();
      return Status(StatusCode::kInternal, "stream ended mid-message: received " +
                                               std::to_string(prefix_have_) +
                                               " of 5 message prefix bytes");
    case State::kReadPayload:
    case State::kSinkPayload:
      break;
  }
  const size_t received = state_ == State::kSinkPayload ? sunk_ : current_.size();
  return Status(StatusCode::kInternal, "stream ended mid-message: received " +
                                           std::to_string(received) + " of " +
                                           std::to_string(current_length_) + " payload bytes");
}

size_t Deframer::buffered_bytes() const {
  switch (state_) {
    case State::kReadPrefix:
      return prefix_have_;
    case State::kSinkPayload:
      return kFramePrefixSize + sunk_;
    case State::kReadPayload:
    case State::kMessageReady:
      return kFramePrefixSize + (sunk_ != 0 ? sunk_ : current_.size());
    case State::kFailed:
      break;
  }
  return 0;
}

}  // namespace h2rpc::codec
