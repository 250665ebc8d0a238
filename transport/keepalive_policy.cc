#include "transport/keepalive_policy.h"

#include <algorithm>

namespace h2rpc::transport {

KeepaliveClock::time_point SaturatingAdd(KeepaliveClock::time_point when,
                                         std::chrono::milliseconds d) {
  if (!IsFinite(d)) return KeepaliveClock::time_point::max();
  const auto room = KeepaliveClock::time_point::max() - when;
  if (std::chrono::duration_cast<KeepaliveClock::duration>(d) >= room) {
    return KeepaliveClock::time_point::max();
  }
  return when + d;
}

KeepalivePinger::Decision KeepalivePinger::OnTimer(KeepaliveClock::time_point now,
                                                   bool calls_open) {
  if (awaiting_ack_) {
    if (last_read_ <= ping_sent_) {
      const auto expiry = SaturatingAdd(ping_sent_, timeout_);
      if (now >= expiry) return {Action::kDead, now};
      return {Action::kWait, expiry};
    }
    awaiting_ack_ = false;  // the peer spoke after our PING: it is alive
  }
  const auto due = SaturatingAdd(last_read_, time_);
  if (now < due) return {Action::kWait, due};
  // A.8: without calls (and not permitted) the client stays quiet; look again one interval
  // later, so a call opened meanwhile is covered within time + timeout of its start.
  if (!calls_open && !permit_without_calls_) return {Action::kWait, SaturatingAdd(now, time_)};
  awaiting_ack_ = true;
  ping_sent_ = now;
  // Look again after one interval if that comes first: an early ACK then keeps PINGs `time`
  // apart instead of `timeout` apart.
  return {Action::kSendPing, SaturatingAdd(now, std::min(time_, timeout_))};
}

bool PingStrikePolicy::OnPingReceived(KeepaliveClock::time_point now, bool calls_open) {
  if (last_ping_.has_value()) {
    const auto since = now - *last_ping_;
    const bool too_soon =
        !calls_open && !permit_without_calls_ ? since < kMinTimeWithoutCalls : since < min_time_;
    if (too_soon) ++strikes_;
  }
  last_ping_ = now;
  return strikes_ > max_strikes_;
}

std::chrono::milliseconds JitteredAge(std::chrono::milliseconds age, double unit_random,
                                      double jitter) {
  if (!IsFinite(age)) return age;
  const double factor = 1.0 + jitter * (2.0 * std::clamp(unit_random, 0.0, 1.0) - 1.0);
  const auto jittered = static_cast<int64_t>(static_cast<double>(age.count()) * factor);
  return std::chrono::milliseconds(std::max<int64_t>(jittered, 1));
}

std::chrono::milliseconds DoubledKeepaliveTime(std::chrono::milliseconds time) {
  if (!IsFinite(time)) return time;
  if (time >= kNeverDuration / 2) return kNeverDuration;
  return time * 2;
}

}  // namespace h2rpc::transport
