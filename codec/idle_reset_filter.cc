#include "codec/idle_reset_filter.h"

#include <algorithm>
#include <cstring>

namespace h2rpc::codec {

namespace {

constexpr size_t kFrameHeaderSize = 9;
constexpr uint8_t kHeaders = 0x1;
constexpr uint8_t kRstStream = 0x3;
constexpr size_t kRstStreamPayload = 4;

}  // namespace

void IdleResetFilter::Prepend(uint8_t* data) {
  if (held_size_ > 0) std::memcpy(data, held_, held_size_);
  held_size_ = 0;
}

size_t IdleResetFilter::Filter(uint8_t* data, size_t size) {
  size_t in = 0;
  size_t out = 0;
  auto pass = [&](size_t count) {
    if (out != in) std::memmove(data + out, data + in, count);
    in += count;
    out += count;
  };
  const size_t preface = std::min(preface_left_, size);
  pass(preface);
  preface_left_ -= preface;
  while (in < size) {
    if (payload_left_ > 0) {
      const size_t count = std::min(payload_left_, size - in);
      pass(count);
      payload_left_ -= count;
      continue;
    }
    const size_t left = size - in;
    if (left < kFrameHeaderSize) break;  // held back below
    const uint8_t* header = data + in;
    const size_t length = (size_t{header[0]} << 16) | (size_t{header[1]} << 8) | header[2];
    const uint8_t type = header[3];
    const uint32_t stream_id = ((uint32_t{header[5]} & 0x7f) << 24) | (uint32_t{header[6]} << 16) |
                               (uint32_t{header[7]} << 8) | header[8];
    const bool client_stream = (stream_id & 1) != 0;
    if (type == kHeaders && client_stream) highest_opened_ = std::max(highest_opened_, stream_id);
    if (type == kRstStream && length == kRstStreamPayload && client_stream &&
        stream_id > highest_opened_) {
      if (left < kFrameHeaderSize + kRstStreamPayload) break;  // held back below
      in += kFrameHeaderSize + kRstStreamPayload;
      ++dropped_;
      continue;
    }
    pass(kFrameHeaderSize);
    payload_left_ = length;
  }
  held_size_ = size - in;  // < 13 by the two breaks above
  if (held_size_ > 0) std::memcpy(held_, data + in, held_size_);
  return out;
}

}  // namespace h2rpc::codec
