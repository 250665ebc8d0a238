// Drops, from the bytes an HTTP/2 server receives, RST_STREAM frames naming a client stream the
// client never opened, before nghttp2 sees them.
//
// RFC 9113 §6.4 makes such a frame a connection error, and nghttp2 answers it with
// GOAWAY(PROTOCOL_ERROR) "RST_STREAM: stream in idle", failing every call on the connection.
// gRPC's C core (grpc++, grpcio and the other core-based clients, 1.51 here) sends one when a
// call is cancelled, or its deadline passes, after it took its stream id and before its HEADERS
// were written: the frame names an id no HEADERS ever carried. grpc-go's and grpc++'s servers
// ignore it; so does h2rpc, instead of ending a connection over one call's cancellation.
//
// The filter follows the frame layout only (9-byte headers, the length field), as nghttp2 does,
// after the 24-byte client connection preface. "Never opened" is a client stream id (odd)
// above every id a HEADERS frame has carried so far, which is nghttp2's own test. Everything
// else passes unchanged, including RST_STREAM frames of the wrong length (nghttp2's to reject).
#pragma once

#include <cstddef>
#include <cstdint>

namespace h2rpc::codec {

class IdleResetFilter {
 public:
  /// Bytes at most held back between calls: an RST_STREAM frame cut by the end of the input.
  static constexpr size_t kMaxHeld = 12;

  /// How many bytes Prepend() will write: put fresh input after them.
  size_t held_size() const { return held_size_; }

  /// Writes the held-back bytes to `data` (room for held_size() bytes) and forgets them. Call it
  /// once the fresh input is in place after them, then Filter() the whole span.
  void Prepend(uint8_t* data);

  /// Filters `data[0, size)` in place: the bytes for nghttp2 end up at the front, and their count
  /// is returned. A frame header or an RST_STREAM frame cut by the end of the input is held back
  /// (at most kMaxHeld bytes) for the next call.
  size_t Filter(uint8_t* data, size_t size);

  /// RST_STREAM frames dropped so far.
  uint64_t dropped() const { return dropped_; }

 private:
  size_t preface_left_ = 24;
  size_t payload_left_ = 0;      // of the frame being passed through
  uint32_t highest_opened_ = 0;  // highest stream id a HEADERS frame carried
  uint8_t held_[kMaxHeld] = {};
  size_t held_size_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace h2rpc::codec
