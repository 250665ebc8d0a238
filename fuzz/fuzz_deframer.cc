// Fuzzes the Deframer. Invariants: feeding the same bytes in one chunk, in random chunks and one
// byte at a time gives the same messages, status and Finish(); buffered_bytes() never exceeds
// max + 5; re-encoding the messages reproduces the input they came from; an error happens
// exactly at a prefix and is the one the prefix calls for. The chunked run also reads into
// reused buffers (a buffer source handing out stale, odd-sized strings, and recycled payloads):
// a reused buffer must never change what a message contains. A fourth run hands large payloads
// to a sink: every piece must lie inside the bytes just fed, and the pieces must add up to the
// same messages.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "codec/framing.h"
#include "fuzz_check.h"

namespace {

using h2rpc::Status;
using h2rpc::StatusCode;
using h2rpc::codec::DeframedMessage;
using h2rpc::codec::Deframer;
using h2rpc::codec::EncodeFrame;
using h2rpc::codec::kFramePrefixSize;

struct Outcome {
  std::vector<DeframedMessage> messages;
  Status status;
  Status finish;
  size_t consumed = 0;
};

/// What the hooks of one run share.
struct HookState {
  uint32_t source_calls = 0;
  std::string_view fed;  // the bytes of the current Feed() call
  std::string sunk;      // the pieces of the current sink message
};

/// A Deframer::BufferSource handing out large strings full of stale bytes, of varying capacity.
std::string StaleBuffer(void* context) {
  auto& counter = static_cast<HookState*>(context)->source_calls;
  ++counter;
  if (counter % 3 == 0) return std::string();  // "none available" happens too
  const size_t size = h2rpc::codec::kDeframerInitialReserve + 1 + (counter * 7919) % 200000;
  return std::string(size, static_cast<char>('A' + counter % 26));
}

/// A Deframer::PayloadSink that checks each piece is part of what was just fed.
void CollectPiece(void* context, const uint8_t* data, size_t size) {
  auto& state = *static_cast<HookState*>(context);
  const auto* fed = reinterpret_cast<const uint8_t*>(state.fed.data());
  FUZZ_CHECK(size > 0);
  FUZZ_CHECK(data >= fed && data + size <= fed + state.fed.size());
  state.sunk.append(reinterpret_cast<const char*>(data), size);
}

constexpr Deframer::Hooks kReuseHooks{&StaleBuffer, nullptr};
constexpr Deframer::Hooks kSinkHooks{&StaleBuffer, &CollectPiece};

enum class Buffers { kFresh, kReused, kSink };

/// Feeds `input` in chunks of the sizes `next_chunk()` returns, as the documented loop does.
/// kReused: the deframer reads into stale buffers from a source and recycled payloads; kSink:
/// large uncompressed payloads go to a sink as well.
template <typename ChunkFn>
Outcome Run(const std::string& input, uint32_t max, bool negotiated, ChunkFn next_chunk,
            Buffers buffers = Buffers::kFresh) {
  Deframer d(max, negotiated);
  HookState hooks;
  if (buffers == Buffers::kReused) d.set_hooks(&kReuseHooks, &hooks);
  if (buffers == Buffers::kSink) d.set_hooks(&kSinkHooks, &hooks);
  const bool reuse = buffers != Buffers::kFresh;
  Outcome out;
  std::string_view rest(input);
  while (!rest.empty() && !d.failed()) {
    std::string_view piece = rest.substr(0, next_chunk());
    while (!piece.empty() && !d.failed()) {
      hooks.fed = piece;
      const size_t used = d.Feed(piece);
      FUZZ_CHECK(used <= piece.size());
      FUZZ_CHECK(d.buffered_bytes() <= uint64_t{max} + kFramePrefixSize);
      piece.remove_prefix(used);
      rest.remove_prefix(used);
      out.consumed += used;
      while (auto m = d.Next()) {
        FUZZ_CHECK(m->payload.size() <= max);
        FUZZ_CHECK(!m->compressed || negotiated);
        if (m->in_sink) {
          FUZZ_CHECK(buffers == Buffers::kSink && m->payload.empty() && !m->compressed);
          FUZZ_CHECK(hooks.sunk.size() > h2rpc::codec::kDeframerInitialReserve);
          m->payload = std::move(hooks.sunk);
          hooks.sunk.clear();
        }
        FUZZ_CHECK(hooks.sunk.empty());
        out.messages.push_back(*m);
        if (reuse && d.wants_buffer()) {
          std::string stale = std::move(m->payload);
          stale.append(h2rpc::codec::kDeframerInitialReserve, 'z');  // large and dirty
          d.RecycleBuffer(std::move(stale));
        }
      }
      if (used == 0) FUZZ_CHECK(d.failed());  // no message waiting, so no progress means error
    }
  }
  out.status = d.status();
  out.finish = d.Finish();
  if (d.failed()) FUZZ_CHECK(d.buffered_bytes() == 0);
  return out;
}

bool SameOutcome(const Outcome& a, const Outcome& b) {
  if (a.messages.size() != b.messages.size()) return false;
  for (size_t i = 0; i < a.messages.size(); ++i) {
    if (a.messages[i].payload != b.messages[i].payload) return false;
    if (a.messages[i].compressed != b.messages[i].compressed) return false;
  }
  return a.status == b.status && a.finish == b.finish && a.consumed == b.consumed;
}

}  // namespace

/// Input layout (read from the front so seeds stay readable): mode byte, 2 bytes for the
/// maximum (modes 0 and 1), 8 bytes of chunking seed, then the byte stream.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint8_t header[11] = {};
  const size_t header_size = std::min(size, sizeof header);
  std::memcpy(header, data, header_size);
  const std::string input(reinterpret_cast<const char*>(data) + header_size, size - header_size);
  const uint8_t mode = header[0];
  const uint32_t param = (uint32_t{header[1]} << 8) | header[2];
  uint32_t max = 0;
  switch (mode & 3) {
    case 0:
      max = param % 65;
      break;
    case 1:
      max = param;
      break;
    case 2:
      max = 4 * 1024 * 1024;
      break;
    default:
      max = UINT32_MAX;  // no limit: growth is still bounded by the bytes received
      break;
  }
  const bool negotiated = (mode & 4) != 0;
  uint64_t state = 1;
  for (int i = 0; i < 8; ++i) state = (state << 8) ^ header[3 + i];
  if (state == 0) state = 1;

  const Outcome whole = Run(input, max, negotiated, [&] { return input.size(); });
  const Outcome random = Run(
      input, max, negotiated,
      [&] {
        state ^= state << 13;  // xorshift64: cheap, deterministic chunk sizes
        state ^= state >> 7;
        state ^= state << 17;
        return size_t{1} + state % (state & 1 ? 8 : 300);
      },
      Buffers::kReused);
  FUZZ_CHECK(SameOutcome(whole, random));
  const Outcome sunk = Run(
      input, max, negotiated,
      [&] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return size_t{1} + state % 70000;
      },
      Buffers::kSink);
  FUZZ_CHECK(SameOutcome(whole, sunk));
  if (input.size() <= 4096) {
    FUZZ_CHECK(SameOutcome(whole, Run(input, max, negotiated, [] { return size_t{1}; })));
  }

  // The messages, re-framed, are exactly the bytes they were read from.
  std::string reencoded;
  for (const DeframedMessage& m : whole.messages) reencoded += EncodeFrame(m.payload, m.compressed);
  FUZZ_CHECK(input.compare(0, reencoded.size(), reencoded) == 0);

  if (!whole.status.ok()) {
    // Failure happens right after a complete prefix, and is the error that prefix calls for.
    FUZZ_CHECK(whole.consumed == reencoded.size() + kFramePrefixSize);
    FUZZ_CHECK(!whole.status.message().empty());
    FUZZ_CHECK(whole.finish == whole.status);
    const auto* p = reinterpret_cast<const uint8_t*>(input.data() + reencoded.size());
    const uint32_t length =
        (uint32_t{p[1]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 8) | uint32_t{p[4]};
    if (p[0] > 1 || (p[0] == 1 && !negotiated)) {
      FUZZ_CHECK(whole.status.code() == StatusCode::kInternal);
    } else {
      FUZZ_CHECK(length > max);
      FUZZ_CHECK(whole.status.code() == StatusCode::kResourceExhausted);
    }
  } else {
    FUZZ_CHECK(whole.consumed == input.size());
    // Finish is OK exactly when no partial message is left over.
    FUZZ_CHECK(whole.finish.ok() == (reencoded.size() == input.size()));
    if (!whole.finish.ok()) FUZZ_CHECK(whole.finish.code() == StatusCode::kInternal);
  }
  return 0;
}
