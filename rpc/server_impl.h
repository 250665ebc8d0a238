// Internal: the server behind h2rpc::Server — method registry, handler slots and pool, the
// transport, and shutdown.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "codec/status.h"
#include "rpc/credentials.h"
#include "rpc/handler_pool.h"
#include "rpc/options.h"
#include "rpc/server_call_state.h"
#include "rpc/service.h"
#include "transport/block_recycler.h"
#include "transport/server_transport.h"

namespace h2rpc::internal {

class ServerImpl final : public transport::ServerStreamHandler {
 public:
  ServerImpl(const ServerOptions& options, std::unordered_map<std::string, MethodEntry> methods,
             GenericHandler fallback);
  ~ServerImpl() override;

  Status AddListeningPort(const std::string& address, int* port,
                          const std::shared_ptr<ServerCredentials>& credentials);
  void Start();
  void Shutdown(std::chrono::system_clock::time_point deadline);
  void Wait();
  bool shutdown_started() const;

  const ServerOptions& options() const { return options_; }
  std::vector<int>& ports() { return ports_; }

  /// Handlers running now (each holds a slot until it returns).
  int64_t running_handlers() const { return running_.load(std::memory_order_acquire); }
  size_t handler_threads() const { return pool_.thread_count(); }
  size_t peak_handler_threads() const { return pool_.peak_thread_count(); }
  transport::ServerTransportStats transport_stats() const { return transport_->stats(); }
  const std::shared_ptr<transport::BufferPool>& large_buffers() const {
    return transport_->large_buffers();
  }

  // transport::ServerStreamHandler (I/O threads)
  std::shared_ptr<transport::ServerStream> NewStream() override;
  transport::RouteResult Route(transport::ServerStream& stream) override;
  bool Dispatch(const std::shared_ptr<transport::ServerStream>& stream) override;
  bool AtCapacity() const override;

 private:
  void RunCall(std::shared_ptr<ServerCallState> call);

  const ServerOptions options_;
  std::unordered_map<std::string, MethodEntry> methods_;
  std::unordered_set<std::string> services_;
  MethodEntry fallback_;
  bool has_fallback_ = false;
  std::vector<int> ports_;
  /// The memory of finished calls' states, for the next calls (declared before the handler pool
  /// and the transport, which may hold the last references: destroyed after them).
  transport::BlockRecycler call_blocks_{kKeptCallBlocks};
  static constexpr size_t kKeptCallBlocks = 256;  // ~256 KiB

  /// Running handlers. A slot is taken at dispatch and released when the handler returns (not
  /// when the stream closes), so a Rapid Reset cannot pile up threads behind closed streams.
  std::atomic<int64_t> running_{0};
  HandlerPool pool_;
  std::unique_ptr<transport::ServerTransport> transport_;

  mutable std::mutex shutdown_mu_;
  std::condition_variable shutdown_cv_;
  bool started_ = false;
  bool shutdown_started_ = false;
  bool shutdown_done_ = false;
};

}  // namespace h2rpc::internal
