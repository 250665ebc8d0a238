#include "transport/returned_buffers.h"

#include <utility>

#include "codec/framing.h"

namespace h2rpc::transport {

void ReturnedBuffers::Give(std::string&& buffer) {
  // Only buffers the deframer would not cheaply get anyway; small ones are just freed.
  if (buffer.capacity() <= codec::kDeframerInitialReserve) return;
  auto owned = std::make_unique<std::string>(std::move(buffer));
  for (auto& slot : slots_) {
    std::string* empty = nullptr;
    if (slot.compare_exchange_strong(empty, owned.get(), std::memory_order_acq_rel,
                                     std::memory_order_relaxed)) {
      owned.release();  // the slot owns it now
      return;
    }
  }
  // Every slot full: the I/O thread has buffers enough; this one is freed here.
}

void LazyReturnedBuffers::Give(std::string&& buffer) {
  if (buffer.capacity() <= codec::kDeframerInitialReserve) return;
  ReturnedBuffers* buffers = buffers_.load(std::memory_order_acquire);
  if (buffers == nullptr) {
    auto fresh = std::make_unique<ReturnedBuffers>();
    if (buffers_.compare_exchange_strong(buffers, fresh.get(), std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
      buffers = fresh.release();  // published; the destructor frees it
    }
    // else: another reader published first (a misuse the API forbids, but harmless here).
  }
  buffers->Give(std::move(buffer));
}

}  // namespace h2rpc::transport
