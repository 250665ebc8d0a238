// The client transport: one I/O thread per Channel that alone owns its sockets and nghttp2
// client sessions, fed by a lock-free command queue.
//
// Caller threads never touch a socket or a session. To start a call they fill a
// ClientStreamState, push a kStart command and wake the loop; writes, half-close, cancel and
// flow-control credit are commands too. The I/O thread drains every queued command, lets
// nghttp2 produce every frame it can, writes them with gather I/O, and reports back through the
// per-call state (see client_stream_state.h).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "codec/status.h"
#include "transport/buffer_pool.h"
#include "transport/client_stream_state.h"
#include "transport/event_loop.h"
#include "transport/keepalive_policy.h"
#include "transport/limits.h"
#include "transport/mpsc_queue.h"
#include "transport/tls_context.h"

namespace h2rpc::transport {

/// A typed request from a caller thread to the I/O thread.
struct ClientCommand {
  enum class Kind : uint8_t {
    kStart,      // put `stream` on a connection (or fail it)
    kSend,       // queue `message` (framed) on `stream`
    kHalfClose,  // END_STREAM after the queued messages
    kCancel,     // end `stream` with its cancel_status(); RST_STREAM(CANCEL) if on the wire
    kConsume,    // the reader drained `stream`: give back the window held for it
    kResolved,   // the resolver thread finished (no stream)
    kConnect,    // connect now if idle or failed, as if a call waited (no stream)
  };
  Kind kind;
  std::shared_ptr<ClientStreamState> stream;
  std::shared_ptr<const std::string> message;
};

/// The queue plus the loop it wakes. Shared (via shared_ptr) by the transport and by streaming
/// calls, so a ClientCall that outlives its Channel can still push safely: after Close(), pushed
/// commands are dropped by the pusher itself (a Start then ends CANCELLED).
class ClientCommandQueue {
 public:
  ClientCommandQueue() = default;
  ClientCommandQueue(const ClientCommandQueue&) = delete;
  ClientCommandQueue& operator=(const ClientCommandQueue&) = delete;
  ~ClientCommandQueue();

  /// Any thread, lock-free while open: push, then wake the loop (a syscall only if it sleeps).
  void Submit(ClientCommand command);

  /// I/O thread.
  std::optional<ClientCommand> TryPop() { return queue_.TryPop(); }
  bool Empty() const { return queue_.Empty(); }
  EventLoop& loop() { return loop_; }
  /// Large message buffers shared by every call of this channel (see buffer_pool.h). Lives as
  /// long as the queue, which streaming calls keep alive past their Channel.
  const std::shared_ptr<BufferPool>& large_buffers() const { return large_buffers_; }

  /// After the I/O thread is gone: drops what is queued and everything pushed later.
  void Close();

 private:
  void DropAll();

  MpscQueue<ClientCommand> queue_;
  EventLoop loop_;
  std::atomic<bool> closed_{false};
  std::mutex drop_mutex_;  // only once closed: serializes the (then several) consumers
  const std::shared_ptr<BufferPool> large_buffers_ = std::make_shared<BufferPool>();
};

/// gRPC's channel connectivity states (connectivity-semantics-and-api.md).
enum class Connectivity : uint8_t { kIdle, kConnecting, kReady, kTransientFailure, kShutdown };

/// The I/O thread's connection state, published for any thread to read or wait on.
class ConnectivityWatch {
 public:
  Connectivity Get() const { return state_.load(std::memory_order_acquire); }
  /// I/O thread: records `now`; wakes the waiters if it changed (costs one load otherwise).
  void Publish(Connectivity now);
  /// True once the state is not `last`; false if `deadline` came first.
  bool WaitForChange(Connectivity last, std::chrono::steady_clock::time_point deadline);

 private:
  std::atomic<Connectivity> state_{Connectivity::kIdle};
  std::mutex mutex_;
  std::condition_variable changed_;
};

/// What the transport needs from ChannelOptions (transport/ does not include rpc/).
struct ClientTransportOptions {
  uint32_t stream_window = 4 * 1024 * 1024;
  uint32_t connection_window = 16 * 1024 * 1024;
  std::chrono::milliseconds connect_timeout{20000};
  std::chrono::milliseconds backoff_initial{1000};
  double backoff_multiplier = 1.6;
  double backoff_jitter = 0.2;
  std::chrono::milliseconds backoff_max{120000};
  std::string user_agent;
  /// :authority of every request; empty: from the target.
  std::string authority;
  TransportLimits limits;
  ClientKeepaliveOptions keepalive;
  /// Null: plaintext (h2c). Otherwise every connection is TLS with ALPN h2, verified against
  /// the target's host (or `tls_target_name_override`); connect_timeout bounds the handshake.
  std::shared_ptr<const TlsContext> tls;
  std::string tls_target_name_override;
  /// How long the I/O thread, after working, polls before it sleeps (EventLoop).
  std::chrono::microseconds poll_before_sleep{50};
};

class ClientTransportImpl;

}  // namespace h2rpc::transport

namespace h2rpc::internal {

/// The Channel's transport: owns the I/O thread. Thread-safe.
class ClientTransport {
 public:
  ClientTransport(std::string target, transport::ClientTransportOptions options);
  /// Ends every outstanding call (CANCELLED), closes the connections, joins the I/O thread.
  ~ClientTransport();
  ClientTransport(const ClientTransport&) = delete;
  ClientTransport& operator=(const ClientTransport&) = delete;

  /// Hands a prepared call to the I/O thread. Lock-free.
  void Start(std::shared_ptr<transport::ClientStreamState> stream);

  /// The connection's state; with `try_to_connect`, an idle or failed channel starts connecting
  /// (after its backoff, if one runs).
  transport::Connectivity GetState(bool try_to_connect);
  bool WaitForStateChange(transport::Connectivity last,
                          std::chrono::steady_clock::time_point deadline) {
    return connectivity_.WaitForChange(last, deadline);
  }

  transport::ClientCommandQueue* queue() { return queue_.get(); }
  const std::shared_ptr<transport::ClientCommandQueue>& shared_queue() { return queue_; }

 private:
  std::shared_ptr<transport::ClientCommandQueue> queue_;
  transport::ConnectivityWatch connectivity_;
  std::unique_ptr<transport::ClientTransportImpl> impl_;
  std::thread io_thread_;
};

}  // namespace h2rpc::internal
