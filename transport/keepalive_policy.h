// Keepalive and connection-lifetime bookkeeping: pure decisions over time points, no sockets,
// no timers, no nghttp2 (gRPC keepalive.md, proposals A8 "client-side keepalive" and A9
// "server-side connection management"). The client and server connections own one of each
// piece they enable and act on its answers with EventLoop timers and nghttp2 frames.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace h2rpc::transport {

using KeepaliveClock = std::chrono::steady_clock;

/// "Never": a duration at or beyond this is treated as infinite (no timer is armed).
inline constexpr std::chrono::milliseconds kNeverDuration = std::chrono::hours(24 * 365 * 100);

/// True for a duration that arms a timer: positive and below kNeverDuration.
inline bool IsFinite(std::chrono::milliseconds d) { return d.count() > 0 && d < kNeverDuration; }

/// `when + d`, saturating instead of overflowing for "infinite" durations.
KeepaliveClock::time_point SaturatingAdd(KeepaliveClock::time_point when,
                                         std::chrono::milliseconds d);

/// Client keepalive settings (ChannelOptions).
struct ClientKeepaliveOptions {
  /// PING after this long without reading anything; zero or kNeverDuration: off.
  std::chrono::milliseconds time{0};
  /// No byte read within this long after the PING: the connection is dead.
  std::chrono::milliseconds timeout{20000};
  /// Ping even with no call open (servers usually forbid it: too_many_pings).
  bool permit_without_calls = false;
};

/// Server keepalive, ping enforcement and connection lifetime (ServerOptions).
struct ServerKeepaliveOptions {
  std::chrono::milliseconds time = std::chrono::hours(2);
  std::chrono::milliseconds timeout{20000};
  /// Shortest interval the server accepts between the client's PINGs.
  std::chrono::milliseconds min_time = std::chrono::minutes(5);
  /// Accept client PINGs while no call is open (otherwise one per 2 h).
  bool permit_without_calls = false;
  /// Pings that break the rules tolerated before GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings").
  int max_ping_strikes = 2;
  std::chrono::milliseconds max_connection_idle = kNeverDuration;
  std::chrono::milliseconds max_connection_age = kNeverDuration;
  std::chrono::milliseconds max_connection_age_grace = kNeverDuration;
};

/// Decides when a keepalive PING is due and when its silence means the peer is gone. Liveness
/// is any byte read (grpc-go does the same): a PING ACK is one, so is a busy stream.
class KeepalivePinger {
 public:
  enum class Action : uint8_t {
    kWait,      // nothing to do; check again at `next_check`
    kSendPing,  // send a PING now; check again at `next_check` (its timeout)
    kDead,      // the PING went unanswered for `timeout`: close the connection
  };
  struct Decision {
    Action action;
    KeepaliveClock::time_point next_check;
  };

  KeepalivePinger(std::chrono::milliseconds time, std::chrono::milliseconds timeout,
                  bool permit_without_calls, KeepaliveClock::time_point now)
      : time_(time),
        timeout_(timeout),
        permit_without_calls_(permit_without_calls),
        last_read_(now) {}

  /// Something was read from the connection.
  void OnRead(KeepaliveClock::time_point now) { last_read_ = now; }
  /// The timer fired. `calls_open`: at least one call is open on the connection.
  Decision OnTimer(KeepaliveClock::time_point now, bool calls_open);
  /// When to check first (and after a change of `time`).
  KeepaliveClock::time_point FirstCheck() const { return SaturatingAdd(last_read_, time_); }

  std::chrono::milliseconds time() const { return time_; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  bool awaiting_ack() const { return awaiting_ack_; }

 private:
  std::chrono::milliseconds time_;
  std::chrono::milliseconds timeout_;
  bool permit_without_calls_;
  KeepaliveClock::time_point last_read_;
  KeepaliveClock::time_point ping_sent_{};
  bool awaiting_ack_ = false;
};

/// The server's count of PINGs that come too often (grpc-go's enforcement policy): a PING
/// sooner than min_time after the previous one — or, with no call open and not permitted,
/// sooner than 2 h — is a strike; sending headers or data forgives them all (the client's
/// BDP pings follow data); more than max_ping_strikes strikes and the client must go.
class PingStrikePolicy {
 public:
  /// What gRPC allows between PINGs on a connection without calls when not permitted.
  static constexpr std::chrono::hours kMinTimeWithoutCalls{2};

  PingStrikePolicy(std::chrono::milliseconds min_time, bool permit_without_calls, int max_strikes)
      : min_time_(min_time),
        permit_without_calls_(permit_without_calls),
        max_strikes_(max_strikes) {}

  /// A PING (not an ACK) arrived. True when the peer is now over the limit.
  bool OnPingReceived(KeepaliveClock::time_point now, bool calls_open);
  /// We sent HEADERS or DATA.
  void OnHeadersOrDataSent() { strikes_ = 0; }
  int strikes() const { return strikes_; }

 private:
  std::chrono::milliseconds min_time_;
  bool permit_without_calls_;
  int max_strikes_;
  int strikes_ = 0;
  std::optional<KeepaliveClock::time_point> last_ping_;
};

/// max_connection_age ± `jitter` (gRPC: ±10 %) so connections made together do not all
/// reconnect together. `unit_random` is uniform in [0, 1).
std::chrono::milliseconds JitteredAge(std::chrono::milliseconds age, double unit_random,
                                      double jitter = 0.1);

/// The client's answer to GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings"): twice the interval
/// (gRPC does the same), saturating at kNeverDuration.
std::chrono::milliseconds DoubledKeepaliveTime(std::chrono::milliseconds time);

/// GOAWAY debug data a server sends when a client pings too often.
inline constexpr std::string_view kTooManyPingsDebugData = "too_many_pings";
/// HTTP/2 ENHANCE_YOUR_CALM.
inline constexpr uint32_t kHttp2EnhanceYourCalm = 0xb;

/// True for the GOAWAY that asks the client to ping less.
inline bool IsTooManyPingsGoaway(uint32_t error_code, std::string_view debug_data) {
  return error_code == kHttp2EnhanceYourCalm && debug_data == kTooManyPingsDebugData;
}

}  // namespace h2rpc::transport
