// Every transport limit in one place, each with the reason it exists.
#pragma once

#include <cstddef>
#include <cstdint>

namespace h2rpc::transport {

struct TransportLimits {
  /// CONTINUATION frames per header block; nghttp2 closes the connection beyond it
  /// (CONTINUATION flood, CVE-2024-27316 class). Real header blocks need 0-2.
  size_t max_continuations = 8;
  /// Rapid Reset (CVE-2023-44487): token bucket of RST_STREAM frames from the peer; over it,
  /// nghttp2 answers GOAWAY. nghttp2's burst (1,000) but not its refill (33/s), which suits
  /// browsers, not gRPC clients, whose deadlines and cancels reset streams all the time (see
  /// ServerOptions::stream_reset_burst, which sets these).
  uint64_t stream_reset_burst = 1000;
  uint64_t stream_reset_rate_per_s = 1000;
  /// SETTINGS entries in one frame; more is an attack (each entry costs work), nghttp2 errors.
  size_t max_settings = 32;
  /// Queued outbound ACKs (SETTINGS/PING) from a peer that floods and does not read:
  /// beyond this nghttp2 drops the connection instead of queueing without bound.
  size_t max_outbound_ack = 1000;
  /// Largest header block we are willing to serialize (our own metadata mistakes stay local).
  size_t max_send_header_block_length = 64 * 1024;
  /// Header list size we accept from the peer (name + value + 32 per field), enforced in the
  /// header callback since nghttp2 advertises but does not enforce it.
  uint32_t max_header_list_size = 8 * 1024;
  /// Encoded frames waiting for the socket before we stop asking nghttp2 for more: the
  /// transport stays bounded when the peer does not read.
  size_t max_pending_output = 1024 * 1024;
  /// Bytes read from the socket per read() call.
  size_t read_chunk = 64 * 1024;
  /// Largest DATA frame payload we send (SETTINGS_MAX_FRAME_SIZE of the peer bounds it too).
  size_t max_data_frame = 16 * 1024;
};

}  // namespace h2rpc::transport
