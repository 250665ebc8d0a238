// The one place that configures nghttp2: options (each with its reason) and our SETTINGS.
#pragma once

#include <nghttp2/nghttp2.h>

#include <memory>
#include <vector>

#include "transport/limits.h"

namespace h2rpc::transport {

struct OptionDeleter {
  void operator()(nghttp2_option* o) const { nghttp2_option_del(o); }
};
using SessionOptionPtr = std::unique_ptr<nghttp2_option, OptionDeleter>;

struct SessionDeleter {
  void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
};
using SessionPtr = std::unique_ptr<nghttp2_session, SessionDeleter>;

struct CallbacksDeleter {
  void operator()(nghttp2_session_callbacks* c) const { nghttp2_session_callbacks_del(c); }
};
using CallbacksPtr = std::unique_ptr<nghttp2_session_callbacks, CallbacksDeleter>;

/// Builds the nghttp2 option set for a client or server session from `limits`.
SessionOptionPtr MakeSessionOptions(const TransportLimits& limits, bool is_server);

/// Our SETTINGS: header table, push off (client), max concurrent streams (server), windows,
/// max frame size, max header list size.
std::vector<nghttp2_settings_entry> MakeSettings(const TransportLimits& limits, bool is_server,
                                                 uint32_t max_concurrent_streams,
                                                 uint32_t stream_window);

/// The SETTINGS_MAX_CONCURRENT_STREAMS value a server session tells nghttp2, while the peer is
/// told `advertised` (the server transport rewrites the value in its first SETTINGS frame).
///
/// Why: nghttp2 1.52 answers a HEADERS beyond its acknowledged limit with a connection error
/// (GOAWAY), killing every call on the connection, although RFC 9113 §5.1.2 lets it be a stream
/// error. SECURITY.md item 8 wants the extra stream refused (RST_STREAM REFUSED_STREAM) while the
/// accepted ones complete. With nghttp2's own limit above the advertised one, the server refuses
/// streams beyond `advertised` itself; nghttp2's GOAWAY only hits a peer that opens more than
/// this many at once (twice the advertised limit, at least advertised + 128), which no
/// conforming client does.
uint32_t ServerEnforcedMaxConcurrentStreams(uint32_t advertised);

}  // namespace h2rpc::transport
