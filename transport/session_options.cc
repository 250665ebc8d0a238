#include "transport/session_options.h"

namespace h2rpc::transport {

SessionOptionPtr MakeSessionOptions(const TransportLimits& limits, bool is_server) {
  nghttp2_option* raw = nullptr;
  nghttp2_option_new(&raw);
  SessionOptionPtr option(raw);
  // We give window back only as the application consumes messages (nghttp2_session_consume),
  // so a slow reader slows its sender instead of growing our buffers.
  nghttp2_option_set_no_auto_window_update(raw, 1);
  // Our read loop never needs nghttp2 to keep closed streams for priority bookkeeping.
  nghttp2_option_set_no_closed_streams(raw, 1);
  // CONTINUATION flood: bounded header block pieces.
  nghttp2_option_set_max_continuations(raw, limits.max_continuations);
  // Rapid Reset: peer-caused RST_STREAM rate limit → GOAWAY.
  nghttp2_option_set_stream_reset_rate_limit(raw, limits.stream_reset_burst,
                                             limits.stream_reset_rate_per_s);
  // SETTINGS with absurd entry counts.
  nghttp2_option_set_max_settings(raw, limits.max_settings);
  // PING/SETTINGS floods from a peer that does not read our ACKs.
  nghttp2_option_set_max_outbound_ack(raw, limits.max_outbound_ack);
  // Our own oversized metadata fails the stream instead of producing a giant header block.
  nghttp2_option_set_max_send_header_block_length(raw, limits.max_send_header_block_length);
  if (is_server) {
    // Request validation is codec::ValidateRequestHeaders' job: with nghttp2's HTTP messaging
    // checks on, requests such as :path "" or "Svc/M" are reset (PROTOCOL_ERROR) before we see
    // them, where gRPC wants UNIMPLEMENTED; non-POST wants 405 and a bad content-type 415. The
    // codec covers pseudo-header rules and connection-specific headers (HTTP 400); the server
    // transport keeps RFC 9113's te rule itself.
    nghttp2_option_set_no_http_messaging(raw, 1);
  }
  if (!is_server) {
    // The server's SETTINGS_MAX_CONCURRENT_STREAMS is unknown until its first SETTINGS; assume
    // 100 (RFC 9113's suggested minimum) so an early burst of calls waits instead of failing.
    nghttp2_option_set_peer_max_concurrent_streams(raw, 100);
  }
  return option;
}

std::vector<nghttp2_settings_entry> MakeSettings(const TransportLimits& limits, bool is_server,
                                                 uint32_t max_concurrent_streams,
                                                 uint32_t stream_window) {
  std::vector<nghttp2_settings_entry> settings;
  if (is_server) {
    // Always advertised: with a thread per call, "no limit" would mean threads without bound.
    settings.push_back({NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_concurrent_streams});
  } else {
    settings.push_back({NGHTTP2_SETTINGS_ENABLE_PUSH, 0});
  }
  settings.push_back({NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, stream_window});
  settings.push_back({NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 16 * 1024});
  settings.push_back({NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits.max_header_list_size});
  return settings;
}

uint32_t ServerEnforcedMaxConcurrentStreams(uint32_t advertised) {
  const uint64_t slack = advertised < 128 ? 128 : advertised;
  const uint64_t enforced = static_cast<uint64_t>(advertised) + slack;
  return enforced > 0x7fffffffu ? 0x7fffffffu : static_cast<uint32_t>(enforced);
}

}  // namespace h2rpc::transport
