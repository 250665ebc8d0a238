// ServerKeepalive: one server connection's keepalive PINGs, its enforcement of the client's
// PING rate, and its lifetime limits (max idle, max age + grace) — gRPC keepalive.md and A9.
//
// Owned by its ServerConnection and run on its I/O thread only. It arms at most three
// EventLoop timers per connection, and only those whose setting is finite; nothing here runs
// per call. Every limit ends with a graceful GOAWAY (shutdown notice, PING, final GOAWAY with
// the last stream processed) so no call the server accepted is lost; only the age grace and a
// silent peer close the connection under running calls.
#pragma once

#include <optional>

#include "transport/event_loop.h"
#include "transport/keepalive_policy.h"

namespace h2rpc::transport {

class ServerConnection;

class ServerKeepalive {
 public:
  ServerKeepalive(ServerConnection* connection, const ServerKeepaliveOptions& options);
  ~ServerKeepalive();
  ServerKeepalive(const ServerKeepalive&) = delete;
  ServerKeepalive& operator=(const ServerKeepalive&) = delete;

  /// Arms the timers the options enable. The connection has just started.
  void Start();
  /// Bytes arrived from the peer (proof of life).
  void OnRead() {
    if (pinger_) pinger_->OnRead(KeepaliveClock::now());
  }
  /// A PING (not an ACK) arrived. False when the peer pings too often: GOAWAY(ENHANCE_YOUR_CALM,
  /// "too_many_pings") is then queued and the connection closes once its calls end.
  bool OnPingReceived();
  void OnHeadersOrDataSent() { strikes_.OnHeadersOrDataSent(); }
  /// The connection's last open stream ended.
  void OnIdle();
  /// The connection closes: no timer may fire after this.
  void Stop();

 private:
  void Arm(EventLoop::TimerId* timer, KeepaliveClock::time_point when,
           void (ServerKeepalive::*fn)());
  void Cancel(EventLoop::TimerId* timer);
  void OnPingTimer();
  void OnIdleTimer();
  void OnAgeTimer();
  void OnGraceTimer();
  void OnGraceFlushTimer();

  ServerConnection* connection_;
  const ServerKeepaliveOptions& options_;
  EventLoop& loop_;
  std::optional<KeepalivePinger> pinger_;
  PingStrikePolicy strikes_;
  KeepaliveClock::time_point idle_since_;
  bool too_many_pings_ = false;
  EventLoop::TimerId ping_timer_ = 0;
  EventLoop::TimerId idle_timer_ = 0;
  EventLoop::TimerId age_timer_ = 0;  // max age, its grace and flush; or the too_many_pings bound
};

}  // namespace h2rpc::transport
