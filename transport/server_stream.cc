#include "transport/server_stream.h"

#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "codec/metadata.h"
#include "codec/percent.h"
#include "transport/server_connection.h"

namespace h2rpc::transport {

namespace {

/// grpc-status values 0..16 as static strings (no formatting per call).
constexpr std::string_view kStatusText[] = {"0", "1",  "2",  "3",  "4",  "5",  "6",  "7", "8",
                                            "9", "10", "11", "12", "13", "14", "15", "16"};

}  // namespace

void ServerStream::Post(ServerCommandType type, std::shared_ptr<const std::string> data) {
  ServerCommand command{type, -1, shared_from_this(), std::move(data), nullptr};
  io_->Post(std::move(command));
}

void ServerStream::WakeAll() {
  recv_word_.Notify();
  send_word_.Notify();
}

namespace {

// Cancel callbacks of all servers' calls, by call. A side table rather than a member: few calls
// ever set one (handlers that wait on something of their own), and ServerStream must stay
// small. Callbacks run under the lock, so that once a handler cleared its callback it is not
// running anywhere (the handler may then destroy what it captured).
struct CancelCallbacks {
  std::mutex mu;
  std::unordered_map<const ServerStream*, std::function<void()>> by_stream;
};

CancelCallbacks& Callbacks() {
  static CancelCallbacks callbacks;
  return callbacks;
}

}  // namespace

ServerStream::~ServerStream() {
  if (has_cancel_callback_.load(std::memory_order_acquire)) {
    CancelCallbacks& callbacks = Callbacks();
    std::lock_guard lock(callbacks.mu);
    callbacks.by_stream.erase(this);
  }
}

void ServerStream::SetCancelCallback(std::function<void()> callback) {
  CancelCallbacks& callbacks = Callbacks();
  std::unique_lock lock(callbacks.mu);
  // Dekker with FireCancelCallback (seq_cst store, then seq_cst load, on both sides): either it
  // sees our flag and finds the callback in the table, or we see cancelled_ and run the callback
  // ourselves. (seq_cst operations rather than fences: ThreadSanitizer does not model fences.)
  has_cancel_callback_.store(true, std::memory_order_seq_cst);
  if (!cancelled_.load(std::memory_order_seq_cst)) {
    if (callback) {
      callbacks.by_stream[this] = std::move(callback);
    } else {
      callbacks.by_stream.erase(this);
    }
    return;
  }
  callbacks.by_stream.erase(this);
  lock.unlock();
  if (callback) callback();
}

void ServerStream::FireCancelCallback() {
  // cancelled_ was stored seq_cst just before: see SetCancelCallback.
  if (!has_cancel_callback_.load(std::memory_order_seq_cst)) return;
  CancelCallbacks& callbacks = Callbacks();
  std::lock_guard lock(callbacks.mu);
  auto it = callbacks.by_stream.find(this);
  if (it == callbacks.by_stream.end()) return;
  std::function<void()> callback = std::move(it->second);
  callbacks.by_stream.erase(it);
  callback();
}

bool ServerStream::Read(RequestMessage* message) {
  bool got = false;
  recv_word_.WaitUntil([&] {
    if (done_.load(std::memory_order_acquire)) return true;
    if (auto m = inbox_.TryPop()) {
      *message = std::move(*m);
      got = true;
      return true;
    }
    if (recv_closed_.load(std::memory_order_acquire)) {
      // Messages are pushed before the flag is set: one more look finds any last one.
      if (auto m = inbox_.TryPop()) {
        *message = std::move(*m);
        got = true;
      }
      return true;
    }
    return false;
  });
  if (!got) return false;
  // Flow control: the I/O thread withheld window while too many bytes waited here. seq_cst
  // pairs with its store of consume_wanted_ and re-check of inbox_bytes_ (Dekker): either it
  // sees our drain and gives the window back itself, or we see its request and post kConsume.
  const auto size = static_cast<int64_t>(message->wire_size());
  const int64_t left = inbox_bytes_.fetch_sub(size, std::memory_order_seq_cst) - size;
  if (left < static_cast<int64_t>(consume_threshold_) &&
      consume_wanted_.load(std::memory_order_seq_cst) &&
      consume_wanted_.exchange(false, std::memory_order_seq_cst)) {
    Post(ServerCommandType::kConsume);
  }
  return true;
}

bool ServerStream::Enqueue(std::shared_ptr<const std::string> framed) {
  // Bounded by the deadline and by cancellation: the I/O thread sets done_ and wakes us.
  send_word_.WaitUntil([&] {
    return done_.load(std::memory_order_acquire) ||
           send_queued_.load(std::memory_order_acquire) < static_cast<int64_t>(send_budget_);
  });
  if (done_.load(std::memory_order_acquire)) return false;
  h_headers_requested_ = true;
  h_sent_message_ = true;
  send_queued_.fetch_add(static_cast<int64_t>(framed->size()), std::memory_order_acq_rel);
  Post(ServerCommandType::kSendMessage, std::move(framed));
  return true;
}

bool ServerStream::Write(std::shared_ptr<const std::string> framed, bool may_hold) {
  if (done_.load(std::memory_order_acquire)) return false;
  if (may_hold && !h_held_ && !h_sent_message_) {
    h_held_ = std::move(framed);
    return true;
  }
  if (h_held_ && !Enqueue(std::move(h_held_))) return false;
  return Enqueue(std::move(framed));
}

bool ServerStream::SendHeaders() {
  if (done_.load(std::memory_order_acquire)) return false;
  if (h_headers_requested_) return true;
  h_headers_requested_ = true;
  Post(ServerCommandType::kSendHeaders);
  return true;
}

void ServerStream::BuildTrailers(const Status& status, const codec::HeaderList* trailing_metadata) {
  trailers_.clear();
  // Exactly: three fields (192 bytes) is past the sizes glibc recycles without its arena lock
  // once its per-thread cache runs dry under load; an OK status alone is one field.
  trailers_.reserve(1 + !status.message().empty() + !status.details().empty() +
                    (trailing_metadata ? trailing_metadata->size() : 0));
  const int code = status.error_code();
  trailers_.emplace_back("grpc-status",
                         std::string(kStatusText[code >= 0 && code < 17 ? code : 2]));
  if (!status.message().empty()) {
    trailers_.emplace_back("grpc-message", codec::PercentEncode(status.message()));
  }
  if (!status.details().empty()) {
    trailers_.emplace_back("grpc-status-details-bin",
                           codec::Base64EncodeUnpadded(status.details()));
  }
  if (trailing_metadata != nullptr) {
    for (const auto& field : *trailing_metadata) trailers_.push_back(field);
  }
}

bool ServerStream::Finish(const Status& status, const codec::HeaderList& trailing_metadata) {
  if (done_.exchange(true, std::memory_order_acq_rel)) return false;
  h_headers_requested_ = true;
  BuildTrailers(status, &trailing_metadata);
  std::shared_ptr<const std::string> held = std::move(h_held_);
  if (held) send_queued_.fetch_add(static_cast<int64_t>(held->size()), std::memory_order_acq_rel);
  Post(ServerCommandType::kFinish, std::move(held));
  // A second handler thread (bidi reader) may still wait: the call is over for it too.
  WakeAll();
  return true;
}

}  // namespace h2rpc::transport
