#include "transport/server_keepalive.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <random>

#include "transport/server_connection.h"

namespace h2rpc::transport {

namespace {

/// Opaque data of our keepalive PINGs (the shutdown PING has its own).
constexpr uint8_t kKeepalivePing[8] = {'h', '2', 'r', 'p', 'c', 'k', 'a', '!'};
/// How long a client told "too_many_pings" may still finish the calls it has open.
constexpr std::chrono::seconds kTooManyPingsGrace{5};
/// After a grace period, how long the calls' final statuses may take to leave before the
/// connection is closed regardless (a client that stopped reading; more than the 1 s a stream
/// ended early has before it is reset).
constexpr std::chrono::seconds kGraceFlush{2};
/// Longest wait for the PING ACKs between a lifetime GOAWAY notice and the final GOAWAY: a
/// client on a busy machine can take seconds to read them (behind megabytes of responses in
/// the socket buffers), and a final GOAWAY sent before it names streams the client opened
/// meanwhile as unprocessed, for the client to retry elsewhere (grpcio 1.51 can lose a
/// streaming message when it does).
constexpr std::chrono::seconds kNoticeRoundTrip{20};

double UnitRandom() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(random);
}

}  // namespace

ServerKeepalive::ServerKeepalive(ServerConnection* connection,
                                 const ServerKeepaliveOptions& options)
    : connection_(connection),
      options_(options),
      loop_(connection->io_->loop()),
      strikes_(options.min_time, options.permit_without_calls, options.max_ping_strikes) {}

ServerKeepalive::~ServerKeepalive() { Stop(); }

void ServerKeepalive::Start() {
  const auto now = KeepaliveClock::now();
  idle_since_ = now;
  if (IsFinite(options_.time)) {
    pinger_.emplace(options_.time, options_.timeout, /*permit_without_calls=*/true, now);
    Arm(&ping_timer_, pinger_->FirstCheck(), &ServerKeepalive::OnPingTimer);
  }
  if (IsFinite(options_.max_connection_idle)) {
    Arm(&idle_timer_, SaturatingAdd(now, options_.max_connection_idle),
        &ServerKeepalive::OnIdleTimer);
  }
  if (IsFinite(options_.max_connection_age)) {
    Arm(&age_timer_, SaturatingAdd(now, JitteredAge(options_.max_connection_age, UnitRandom())),
        &ServerKeepalive::OnAgeTimer);
  }
}

void ServerKeepalive::Stop() {
  Cancel(&ping_timer_);
  Cancel(&idle_timer_);
  Cancel(&age_timer_);
}

void ServerKeepalive::Arm(EventLoop::TimerId* timer, KeepaliveClock::time_point when,
                          void (ServerKeepalive::*fn)()) {
  Cancel(timer);
  if (when == KeepaliveClock::time_point::max()) return;
  *timer = loop_.AddTimer(when, [this, timer, fn] {
    *timer = 0;
    (this->*fn)();
  });
}

void ServerKeepalive::Cancel(EventLoop::TimerId* timer) {
  if (*timer == 0) return;
  loop_.CancelTimer(*timer);
  *timer = 0;
}

bool ServerKeepalive::OnPingReceived() {
  if (too_many_pings_) return true;  // already asked to go; nghttp2's flood limits still apply
  ServerConnection& c = *connection_;
  if (!strikes_.OnPingReceived(KeepaliveClock::now(), c.stream_count_ > 0)) return true;
  too_many_pings_ = true;
  // Streams up to the last one we processed still finish (bounded by kTooManyPingsGrace);
  // newer ones are refused, and the connection closes when the last call ends.
  c.SubmitFinalGoaway(NGHTTP2_ENHANCE_YOUR_CALM, kTooManyPingsDebugData);
  c.shutdown_notice_sent_ = true;
  if (c.goaway_timer_ != 0) {
    loop_.CancelTimer(c.goaway_timer_);
    c.goaway_timer_ = 0;
  }
  Cancel(&ping_timer_);
  Cancel(&idle_timer_);
  Arm(&age_timer_, KeepaliveClock::now() + kTooManyPingsGrace, &ServerKeepalive::OnGraceTimer);
  c.io_->MarkDirty(&c);
  return false;
}

void ServerKeepalive::OnIdle() {
  if (idle_timer_ != 0) idle_since_ = KeepaliveClock::now();
}

void ServerKeepalive::OnPingTimer() {
  ServerConnection& c = *connection_;
  if (c.closed_) return;
  const KeepalivePinger::Decision d = pinger_->OnTimer(KeepaliveClock::now(), true);
  switch (d.action) {
    case KeepalivePinger::Action::kDead:
      // The client stopped answering: its calls end (handlers see IsCancelled()).
      c.Close();
      return;
    case KeepalivePinger::Action::kSendPing:
      nghttp2_submit_ping(c.session_, NGHTTP2_FLAG_NONE, kKeepalivePing);
      c.io_->MarkDirty(&c);
      break;
    case KeepalivePinger::Action::kWait:
      break;
  }
  Arm(&ping_timer_, d.next_check, &ServerKeepalive::OnPingTimer);
}

void ServerKeepalive::OnIdleTimer() {
  ServerConnection& c = *connection_;
  if (c.closed_) return;
  const auto now = KeepaliveClock::now();
  if (c.stream_count_ > 0) {
    // Busy: idleness starts when the last stream ends (OnIdle); look again one period later.
    Arm(&idle_timer_, SaturatingAdd(now, options_.max_connection_idle),
        &ServerKeepalive::OnIdleTimer);
    return;
  }
  const auto due = SaturatingAdd(idle_since_, options_.max_connection_idle);
  if (now < due) {
    Arm(&idle_timer_, due, &ServerKeepalive::OnIdleTimer);
    return;
  }
  c.BeginGracefulGoaway(now + kNoticeRoundTrip, "max_idle");
}

void ServerKeepalive::OnAgeTimer() {
  ServerConnection& c = *connection_;
  if (c.closed_) return;
  const auto now = KeepaliveClock::now();
  // The grace is all the time calls have: a stream accepted just before the final GOAWAY still
  // gets half of it. (A client that reads slowly may not see the notice for seconds, queued
  // behind megabytes of responses, and opens streams until it does.)
  c.BeginGracefulGoaway(
      SaturatingAdd(now, std::min<std::chrono::milliseconds>(
                             kNoticeRoundTrip, options_.max_connection_age_grace / 2)),
      "max_age");
  Arm(&age_timer_, SaturatingAdd(now, options_.max_connection_age_grace),
      &ServerKeepalive::OnGraceTimer);
}

void ServerKeepalive::OnGraceTimer() {
  // Calls still running after the grace period end with a status of their own (handlers see
  // IsCancelled()): cutting the connection instead would also reset the client's socket with
  // the responses of finished calls still unread in it.
  ServerConnection& c = *connection_;
  if (c.closed_) return;
  const std::string_view reason = too_many_pings_ ? kTooManyPingsDebugData : "max_age";
  c.EndRunningCalls(
      Status(StatusCode::kUnavailable,
             std::string(reason) + ": the call outlived the connection's grace period"));
  Arm(&age_timer_, KeepaliveClock::now() + kGraceFlush, &ServerKeepalive::OnGraceFlushTimer);
}

void ServerKeepalive::OnGraceFlushTimer() {
  // A client that takes none of those statuses.
  if (!connection_->closed_) connection_->Close();
}

}  // namespace h2rpc::transport
