// gRPC message framing: the 5-byte Length-Prefixed-Message header and an incremental deframer.
//
//   Length-Prefixed-Message → Compressed-Flag Message-Length Message
//   Compressed-Flag → 0 / 1      (1 byte)
//   Message-Length  → {big-endian uint32}
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "codec/status.h"

namespace h2rpc::codec {

/// Size of the Length-Prefixed-Message header: 1 flag byte + 4 length bytes.
inline constexpr size_t kFramePrefixSize = 5;

/// Largest payload a prefix can describe (the length field is a uint32).
inline constexpr size_t kMaxFramePayload = 0xFFFFFFFFu;

/// Largest buffer the Deframer reserves up-front for a payload: a peer that claims a 4 MiB
/// message and sends five bytes costs at most this much. Beyond it the buffer grows with the
/// bytes actually received (and never beyond the claimed length).
inline constexpr size_t kDeframerInitialReserve = 64 * 1024;

/// Writes the 5-byte prefix for a message of `length` bytes into `out`.
void EncodeFramePrefix(bool compressed, uint32_t length, uint8_t out[kFramePrefixSize]);

/// Returns prefix + payload as one string (convenience for tests and small messages).
/// A payload above kMaxFramePayload cannot be framed: the result is empty (callers check sizes
/// against their max send message size first).
std::string EncodeFrame(std::string_view payload, bool compressed = false);

/// One whole message taken out of the byte stream. `payload` is still compressed if
/// `compressed` is set; the caller decompresses with the negotiated grpc-encoding.
struct DeframedMessage {
  bool compressed = false;
  /// The payload went to the PayloadSink piece by piece instead (`payload` is empty).
  bool in_sink = false;
  std::string payload;
};

/// Incremental deframer: feed arbitrary chunks (one byte at a time works), take whole messages.
/// The length is checked against `max_message_size` as soon as the prefix is complete, before any
/// allocation for the payload.
///
/// Usage: while bytes remain { n = Feed(bytes); bytes = bytes.substr(n);
///                             while (auto m = Next()) deliver(*m); if (failed()) break; }
/// then Finish() at END_STREAM.
class Deframer {
 public:
  /// `compression_negotiated`: whether the stream carries a grpc-encoding other than identity;
  /// a compressed flag of 1 without it is INTERNAL.
  explicit Deframer(uint32_t max_message_size, bool compression_negotiated = false)
      : max_message_size_(max_message_size), compression_negotiated_(compression_negotiated) {}

  void set_compression_negotiated(bool negotiated) { compression_negotiated_ = negotiated; }
  /// Applies to messages whose prefix has not been completed yet.
  void set_max_message_size(uint32_t max) { max_message_size_ = max; }

  /// Consumes up to `data.size()` bytes. Returns how many bytes were consumed: it stops after the
  /// first complete message so the caller can take it (call Next()), and stops for good on error.
  /// While a completed message waits to be taken, Feed consumes nothing and returns 0.
  /// On error, status() says why (RESOURCE_EXHAUSTED naming both sizes, INTERNAL for a bad flag).
  size_t Feed(std::span<const uint8_t> data);
  size_t Feed(std::string_view data) {
    return Feed(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  }

  /// A completed message, if one is ready; taking it lets Feed() continue.
  std::optional<DeframedMessage> Next();

  /// Called when the stream ends (END_STREAM). OK if no partial message is buffered (a completed
  /// message not yet taken is fine); INTERNAL ("stream ended mid-message") otherwise; the error
  /// status() if the deframer already failed.
  Status Finish() const;

  const Status& status() const { return status_; }
  bool failed() const { return !status_.ok(); }
  /// Bytes held for the current message, prefix included: the partial message being read or the
  /// completed one not yet taken. Never above max_message_size + 5; 0 after a failure (the
  /// buffer is released).
  size_t buffered_bytes() const;

  /// Gives back a message buffer the application is done with. The next message that claims
  /// more than kDeframerInitialReserve bytes is read into it (grown if the claim is larger), so
  /// a stream of large messages reuses one buffer instead of allocating (and page-faulting) a
  /// fresh one per message. One spare at most.
  void RecycleBuffer(std::string&& buffer);
  /// Whether a buffer given to RecycleBuffer would be kept: no large spare held yet. Buffers up
  /// to kDeframerInitialReserve are not worth keeping (the first reserve is that size anyway).
  bool wants_buffer() const {
    return spare_.capacity() <= kDeframerInitialReserve && state_ != State::kFailed;
  }

  /// Where a payload buffer comes from when a prefix claims more than kDeframerInitialReserve
  /// bytes and no recycled spare fits: called on the feeding thread, returns a buffer to read
  /// into (its contents are discarded) or an empty string for "none".
  using BufferSource = std::string (*)(void* context);
  /// Takes the payload of an uncompressed message of more than kDeframerInitialReserve bytes,
  /// piece by piece as it is fed, instead of the deframer's buffer: `data` is the caller's own
  /// input to Feed(), so a caller that owns that memory can keep references instead of copies.
  /// The message's pieces arrive in order and add up to its length; Next() then reports it
  /// with `in_sink` set. A caller that drops the stream drops the pieces it kept.
  using PayloadSink = void (*)(void* context, const uint8_t* data, size_t size);
  /// Plain function pointers so the codec stays free of the transport's types; one `context`
  /// is passed back to both. Either may be null. `hooks` must outlive the deframer.
  struct Hooks {
    BufferSource take_buffer = nullptr;
    PayloadSink take_payload = nullptr;
  };
  void set_hooks(const Hooks* hooks, void* context) {
    hooks_ = hooks;
    hooks_context_ = context;
  }

 private:
  /// The deframer's states; every byte fed is handled by exactly one of them.
  enum class State : uint8_t {
    kReadPrefix,    // collecting the 5-byte prefix (prefix_have_ of them so far)
    kReadPayload,   // prefix accepted; collecting current_length_ payload bytes into current_
    kSinkPayload,   // prefix accepted; passing current_length_ payload bytes to the sink
    kMessageReady,  // a whole message (in current_, or given to the sink) waits for Next()
    kFailed,        // status_ says why; nothing more is consumed
  };

  void OnPrefixComplete();
  void AppendPayload(const uint8_t* data, size_t n);
  void Fail(Status status);

  // Small fields packed together: a deframer lives in every server call's state, which must
  // stay within malloc's per-thread cache (see rpc/server.cc).
  uint32_t max_message_size_;
  uint32_t current_length_ = 0;
  State state_ = State::kReadPrefix;
  uint8_t prefix_[kFramePrefixSize] = {};
  uint8_t prefix_have_ = 0;  // 0..kFramePrefixSize
  bool compression_negotiated_;
  bool current_compressed_ = false;
  uint32_t sunk_ = 0;  // payload bytes given to the sink (kSinkPayload)
  std::string current_;
  std::string spare_;  // a recycled or pooled buffer for the next large message; at most one
  const Hooks* hooks_ = nullptr;
  void* hooks_context_ = nullptr;
  Status status_;
};

}  // namespace h2rpc::codec
