// The keepalive bookkeeping without sockets: when a PING is due, when silence means death,
// which client PINGs are strikes, the age jitter and the client's back-off on too_many_pings.
#include "transport/keepalive_policy.h"

#include <doctest/doctest.h>

namespace h2rpc::transport {
namespace {

using namespace std::chrono_literals;
using Action = KeepalivePinger::Action;

const KeepaliveClock::time_point t0 = KeepaliveClock::time_point() + 1000h;

TEST_CASE("keepalive pinger: PING after `time` without reads, dead after `timeout` of silence") {
  KeepalivePinger pinger(300ms, 500ms, /*permit_without_calls=*/false, t0);
  CHECK(pinger.FirstCheck() == t0 + 300ms);
  // Early timer: wait for the due time.
  auto d = pinger.OnTimer(t0 + 100ms, true);
  CHECK(d.action == Action::kWait);
  CHECK(d.next_check == t0 + 300ms);
  d = pinger.OnTimer(t0 + 300ms, true);
  CHECK(d.action == Action::kSendPing);
  CHECK(d.next_check == t0 + 600ms);  // min(time, timeout) later
  CHECK(pinger.awaiting_ack());
  // Nothing read: dead at ping + timeout, not before.
  d = pinger.OnTimer(t0 + 600ms, true);
  CHECK(d.action == Action::kWait);
  CHECK(d.next_check == t0 + 800ms);
  d = pinger.OnTimer(t0 + 700ms, true);
  CHECK(d.action == Action::kWait);
  CHECK(d.next_check == t0 + 800ms);
  CHECK(pinger.OnTimer(t0 + 800ms, true).action == Action::kDead);
}

TEST_CASE("keepalive pinger: any read after the PING is proof of life; PINGs stay `time` apart") {
  KeepalivePinger pinger(300ms, 500ms, false, t0);
  REQUIRE(pinger.OnTimer(t0 + 300ms, true).action == Action::kSendPing);
  pinger.OnRead(t0 + 310ms);  // the ACK
  auto d = pinger.OnTimer(t0 + 600ms, true);
  CHECK_FALSE(pinger.awaiting_ack());
  CHECK(d.action == Action::kWait);
  CHECK(d.next_check == t0 + 610ms);  // one interval after the last read
  CHECK(pinger.OnTimer(t0 + 610ms, true).action == Action::kSendPing);
}

TEST_CASE("keepalive pinger: reads keep pushing the PING back") {
  KeepalivePinger pinger(300ms, 500ms, false, t0);
  pinger.OnRead(t0 + 250ms);
  auto d = pinger.OnTimer(t0 + 300ms, true);
  CHECK(d.action == Action::kWait);
  CHECK(d.next_check == t0 + 550ms);
}

TEST_CASE("keepalive pinger: no PING without calls unless permitted") {
  KeepalivePinger quiet(300ms, 500ms, false, t0);
  auto d = quiet.OnTimer(t0 + 300ms, /*calls_open=*/false);
  CHECK(d.action == Action::kWait);
  CHECK(d.next_check == t0 + 600ms);
  CHECK(quiet.OnTimer(t0 + 600ms, true).action == Action::kSendPing);
  KeepalivePinger permitted(300ms, 500ms, true, t0);
  CHECK(permitted.OnTimer(t0 + 300ms, false).action == Action::kSendPing);
}

TEST_CASE("ping strikes: min_time between PINGs, 2 h without calls, reset by our data") {
  PingStrikePolicy policy(1000ms, /*permit_without_calls=*/false, /*max_strikes=*/2);
  CHECK_FALSE(policy.OnPingReceived(t0, true));  // the first PING is never early
  CHECK(policy.strikes() == 0);
  CHECK_FALSE(policy.OnPingReceived(t0 + 1000ms, true));  // exactly min_time: fine
  CHECK(policy.strikes() == 0);
  CHECK_FALSE(policy.OnPingReceived(t0 + 1500ms, true));
  CHECK(policy.strikes() == 1);
  policy.OnHeadersOrDataSent();
  CHECK(policy.strikes() == 0);
  CHECK_FALSE(policy.OnPingReceived(t0 + 1600ms, true));
  CHECK_FALSE(policy.OnPingReceived(t0 + 1700ms, true));
  CHECK(policy.strikes() == 2);
  CHECK(policy.OnPingReceived(t0 + 1800ms, true));  // more than max_ping_strikes
  // Without calls the bar is 2 hours.
  PingStrikePolicy idle(1000ms, false, 0);
  CHECK_FALSE(idle.OnPingReceived(t0, false));
  CHECK(idle.OnPingReceived(t0 + 1h, false));
  PingStrikePolicy permitted(1000ms, true, 0);
  CHECK_FALSE(permitted.OnPingReceived(t0, false));
  CHECK_FALSE(permitted.OnPingReceived(t0 + 2s, false));
  CHECK(permitted.OnPingReceived(t0 + 2500ms, false));
}

TEST_CASE("connection age: ±10 % jitter, infinite stays infinite") {
  CHECK(JitteredAge(1000ms, 0.0) == 900ms);
  CHECK(JitteredAge(1000ms, 0.5) == 1000ms);
  CHECK(JitteredAge(1000ms, 0.999999) >= 1099ms);
  CHECK(JitteredAge(1000ms, 0.999999) <= 1100ms);
  CHECK(JitteredAge(kNeverDuration, 0.3) == kNeverDuration);
  CHECK(JitteredAge(1ms, 0.0) == 1ms);  // never zero
}

TEST_CASE("too_many_pings: the client doubles its interval, saturating") {
  CHECK(DoubledKeepaliveTime(50ms) == 100ms);
  CHECK(DoubledKeepaliveTime(kNeverDuration / 2 + 1ms) == kNeverDuration);
  CHECK(DoubledKeepaliveTime(std::chrono::milliseconds::max()) == std::chrono::milliseconds::max());
  CHECK(IsTooManyPingsGoaway(0xb, "too_many_pings"));
  CHECK_FALSE(IsTooManyPingsGoaway(0xb, "other"));
  CHECK_FALSE(IsTooManyPingsGoaway(0, "too_many_pings"));
}

TEST_CASE("durations: infinite ones arm no timer and never overflow") {
  CHECK_FALSE(IsFinite(0ms));
  CHECK_FALSE(IsFinite(std::chrono::milliseconds::max()));
  CHECK(IsFinite(1ms));
  CHECK(SaturatingAdd(t0, std::chrono::milliseconds::max()) == KeepaliveClock::time_point::max());
  CHECK(SaturatingAdd(t0, 5ms) == t0 + 5ms);
}

}  // namespace
}  // namespace h2rpc::transport
