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

}  // namespace h2rpc::transport
