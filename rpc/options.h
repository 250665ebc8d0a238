// Per-channel and per-server settings with their defaults.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "codec/compression.h"

namespace h2rpc {

using codec::Compression;

/// A duration setting that means "never" (no timer is armed): keepalive off, no age limit.
inline constexpr std::chrono::milliseconds kInfiniteDuration = std::chrono::milliseconds::max();

/// Settings of a client Channel. Defaults follow gRPC's where gRPC has one.
struct ChannelOptions {
  /// Largest message the client accepts (gRPC's default: 4 MiB); larger → RESOURCE_EXHAUSTED.
  uint32_t max_receive_message_size = 4 * 1024 * 1024;
  /// Largest message the client sends; larger → RESOURCE_EXHAUSTED before anything is sent.
  uint32_t max_send_message_size = 0x7fffffff;
  /// Compression of outgoing messages unless a ClientContext says otherwise.
  Compression default_compression = Compression::kIdentity;
  /// Appended after "h2rpc-cpp/<version>" in user-agent.
  std::string user_agent_prefix;
  /// Bound on TCP connect + TLS handshake + the server's SETTINGS, per attempt.
  std::chrono::milliseconds connect_timeout{20000};
  /// TLS: the name the server's certificate must carry instead of the target's host (and the
  /// SNI sent), like gRPC's grpc.ssl_target_name_override. For tests; empty: the target's host.
  std::string ssl_target_name_override;
  /// The :authority of every call instead of the target's host:port, like gRPC's
  /// grpc.default_authority (virtual hosts behind a proxy, a name the server routes on). Visible
  /// ASCII only; anything else fails every call INVALID_ARGUMENT. Empty: from the target.
  std::string default_authority;
  /// gRPC connection backoff (connection-backoff.md): initial, multiplier, jitter, max.
  std::chrono::milliseconds backoff_initial{1000};
  double backoff_multiplier = 1.6;
  double backoff_jitter = 0.2;
  std::chrono::milliseconds backoff_max{120000};
  /// Per-stream receive window we advertise; large so one stream can fill the link.
  uint32_t stream_window = 4 * 1024 * 1024;
  /// Connection receive window we advertise.
  uint32_t connection_window = 16 * 1024 * 1024;
  /// Bytes a writer may have queued on one stream beyond what the peer's window admits;
  /// Write() blocks above it (no unbounded buffering).
  uint32_t stream_send_budget = 256 * 1024;
  /// Keepalive (gRPC keepalive.md, A8): a PING once this long passed without reading anything
  /// from the connection. Zero or kInfiniteDuration: off (the default; no timer exists then).
  /// A server that finds it too frequent answers GOAWAY "too_many_pings"; the channel then
  /// doubles it for its later connections.
  std::chrono::milliseconds keepalive_time{0};
  /// No byte from the server within this long after the PING: the connection is closed and
  /// its calls end UNAVAILABLE; the next call reconnects.
  std::chrono::milliseconds keepalive_timeout{20000};
  /// PING also while no call is open (most servers forbid it: too_many_pings).
  bool keepalive_permit_without_calls = false;
  /// After it handled something, the channel's I/O thread keeps polling the socket and the
  /// call queue for up to this long before it sleeps, so the reply to a call in flight, or the
  /// next call, is taken without a wake-up (two context switches; on a virtual machine waking
  /// an idle CPU can cost more than the call). At most this much CPU per burst of work; 50 µs
  /// about halves single-call latency on loopback. Zero: sleep at once (the least CPU). Not
  /// used on a thread that can run on one CPU only, nor under a cgroup CPU quota of less than
  /// two CPUs (a container's cpu.max: polls would spend the quota and get the process
  /// throttled), nor while I/O threads of the process already poll on half the CPUs it can use.
  std::chrono::microseconds poll_before_sleep{50};
};

/// Settings of a Server. Each limit is enforced, and advertised where HTTP/2 has a setting.
struct ServerOptions {
  /// Largest request message accepted, checked from the length prefix before any allocation and
  /// again after decompression (gRPC's default: 4 MiB); larger → RESOURCE_EXHAUSTED.
  uint32_t max_receive_message_size = 4 * 1024 * 1024;
  /// Largest response message a handler may write; larger → the call ends RESOURCE_EXHAUSTED.
  uint32_t max_send_message_size = 0x7fffffff;
  /// Handlers running at once (each on its own pooled thread). The server advertises the same
  /// number as SETTINGS_MAX_CONCURRENT_STREAMS per connection; across connections, calls beyond
  /// it are refused with RST_STREAM(REFUSED_STREAM). A slot is held until the handler returns,
  /// so this also bounds the threads a Rapid Reset can keep busy. 256: enough that a few busy
  /// connections rarely hit it, few enough that a thread each is cheap.
  uint32_t max_concurrent_calls = 256;
  /// Idle handler threads kept for reuse; beyond it a thread that finishes exits. 32 covers the
  /// usual burst without keeping hundreds of stacks after a peak.
  uint32_t max_idle_handler_threads = 32;
  /// I/O threads running nghttp2 server sessions (connections spread round-robin). One is
  /// enough for tens of thousands of calls per second; handlers do the per-call work.
  uint32_t io_threads = 1;
  /// Compression of responses unless a ServerContext says otherwise (and if the client accepts
  /// it). Identity: compressing small messages costs more CPU than it saves.
  Compression default_compression = Compression::kIdentity;
  /// Per-stream receive window we advertise. 4 MiB lets one 4 MiB request arrive without a
  /// round trip; window is given back as the handler reads, so unread data per call stays below
  /// about this plus a quarter of it.
  uint32_t stream_window = 4 * 1024 * 1024;
  /// Connection receive window (sent as WINDOW_UPDATE; RFC 9113 starts it at 64 KiB). Given back
  /// as soon as data arrives: per-stream windows bound memory, this only must not stall streams.
  uint32_t connection_window = 16 * 1024 * 1024;
  /// Bytes a handler may have queued on one stream and not yet framed by nghttp2 (its window or
  /// the socket is full): Write() blocks above it, bounded by the deadline or cancellation.
  uint32_t stream_send_budget = 256 * 1024;
  /// SETTINGS_MAX_HEADER_LIST_SIZE advertised and enforced on receive (name + value + 32 each);
  /// 8 KiB as grpc-go and most proxies; a request over it fails alone (RST_STREAM).
  uint32_t max_header_list_size = 8 * 1024;
  /// Rapid Reset (CVE-2023-44487): RST_STREAM frames a connection may send, as a token bucket
  /// (this many at once, refilled at the rate below); beyond it the connection gets GOAWAY.
  /// gRPC clients reset streams routinely (every expired deadline, every cancel, hedged calls):
  /// nghttp2's default refill of 33/s ended a grpc-js client's connection after a few seconds
  /// of a deadline-heavy load (~230 resets/s), failing every call on it. nghttp2 refills once per
  /// whole second and never above the burst, so the burst is also the most resets a connection
  /// may send in one second: at 1,000, grpc-go's chaos client (6,000 calls, two thirds of them
  /// cancelled or past their deadline, ~1,750 resets/s) got GOAWAY in 3 of 6 runs. A flood
  /// still meets the burst within milliseconds.
  uint64_t stream_reset_burst = 5000;
  uint64_t stream_reset_rate_per_s = 5000;

  // ---- Keepalive and connection lifetime (gRPC keepalive.md, A9); kInfiniteDuration: off.
  // These clocks start at the client's HTTP/2 preface, not at the accept (as grpc-go's do): a
  // client that is slow to start its connection still gets the whole age before the GOAWAY.
  /// The server PINGs a connection it read nothing from for this long ...
  std::chrono::milliseconds keepalive_time = std::chrono::hours(2);
  /// ... and closes it (cancelling its calls) if nothing arrives within this long after.
  std::chrono::milliseconds keepalive_timeout{20000};
  /// Shortest interval accepted between a client's PINGs; sooner ones are strikes.
  std::chrono::milliseconds keepalive_min_time = std::chrono::minutes(5);
  /// Accept client PINGs while no call is open (otherwise one per 2 hours).
  bool keepalive_permit_without_calls = false;
  /// Strikes tolerated; one more → GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings"); the client's
  /// open calls still finish (within 5 s), then the connection closes.
  int max_ping_strikes = 2;
  /// A connection without open calls for this long gets a graceful GOAWAY.
  std::chrono::milliseconds max_connection_idle = kInfiniteDuration;
  /// A connection this old (±10 % jitter) gets a graceful GOAWAY: running calls finish, new
  /// ones go to a new connection ...
  std::chrono::milliseconds max_connection_age = kInfiniteDuration;
  /// ... and calls still running this long after that GOAWAY are cancelled: their handlers see
  /// IsCancelled(), their clients UNAVAILABLE "max_age: the call outlived the connection's grace
  /// period"; the connection then closes (2 s later at most). The final GOAWAY follows the
  /// notice's PING ACKs, or half this grace (20 s at most) without them.
  std::chrono::milliseconds max_connection_age_grace = kInfiniteDuration;
  /// A client must finish its TLS handshake (on TLS ports) and send its HTTP/2 connection
  /// preface within this of connecting, or be disconnected: a client that connects and sends
  /// nothing (or only part of the preface) cannot hold a connection and its file descriptor.
  std::chrono::milliseconds handshake_timeout{10000};
  /// After it handled something, each I/O thread keeps polling its sockets and queue for up to
  /// this long before it sleeps (see ChannelOptions::poll_before_sleep), so the handler's
  /// response and the client's next request are taken without waking it. On 2 CPUs, client and
  /// server both polling: unary p50 55 → 32 µs, echo 42 → 27 µs, 8 client threads 4 % more
  /// calls/s; the cost is server CPU, 12 → 15 µs per call at 8 threads (the same under h2load's
  /// 400 calls in flight), and at most this much per burst of work when calls come one by one
  /// (paced by h2load on one connection: within noise at 100 calls/s, 166-180 vs 167-190 µs per
  /// call, where waking an idle server dominates; lower at 1,000 calls/s, 59-68 → 41-47 µs).
  /// Zero: sleep at once (less CPU with many calls in flight). The same guards as the channel's
  /// (one CPU, a cgroup quota under two CPUs, half the CPUs already polling).
  std::chrono::microseconds poll_before_sleep{50};
};

}  // namespace h2rpc
