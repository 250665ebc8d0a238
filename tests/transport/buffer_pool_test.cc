// BufferPool: large buffers shared by the calls of a channel or server, so a sequence of
// large unary calls reuses them instead of faulting in fresh megabytes per call.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "codec/framing.h"
#include "transport/buffer_pool.h"

namespace h2rpc::transport {
namespace {

constexpr size_t kLarge = codec::kDeframerInitialReserve * 2;

std::string LargeBuffer(size_t size = kLarge) {
  std::string buffer;
  buffer.reserve(size);
  return buffer;
}

TEST_CASE("buffer pool: small buffers are not kept, large ones come back") {
  BufferPool pool;
  CHECK(pool.Take() == nullptr);
  pool.Give(std::string(100, 's'));
  CHECK(pool.held_bytes() == 0);
  CHECK(pool.Take() == nullptr);

  std::string large = LargeBuffer();
  const char* data = large.data();
  pool.Give(std::move(large));
  CHECK(pool.held_bytes() >= kLarge);
  std::unique_ptr<std::string> back = pool.Take();
  REQUIRE(back != nullptr);
  CHECK(back->data() == data);
  CHECK(pool.held_bytes() == 0);
  CHECK(pool.TakeOrEmpty().capacity() < 64);  // a plain empty string: nothing was kept
}

TEST_CASE("buffer pool: bounded by slots and by bytes") {
  SUBCASE("slots") {
    BufferPool pool(1u << 30);
    for (size_t i = 0; i < BufferPool::kSlots + 3; ++i) pool.Give(LargeBuffer());
    size_t taken = 0;
    while (pool.Take()) ++taken;
    CHECK(taken == BufferPool::kSlots);
    CHECK(pool.held_bytes() == 0);
  }
  SUBCASE("bytes") {
    BufferPool pool(3 * kLarge);
    for (int i = 0; i < 5; ++i) pool.Give(LargeBuffer());
    CHECK(pool.held_bytes() <= 3 * kLarge);
    size_t taken = 0;
    while (pool.Take()) ++taken;
    CHECK(taken >= 1);
    CHECK(taken <= 3);
    // A single buffer beyond the whole budget is never kept.
    pool.Give(LargeBuffer(4 * kLarge));
    CHECK(pool.Take() == nullptr);
  }
}

TEST_CASE("buffer pool: many threads give and take at once") {
  BufferPool pool;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pool, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string buffer = pool.TakeOrEmpty();
        buffer.assign(kLarge, static_cast<char>('a' + t));  // owned exclusively: no one else writes
        CHECK(buffer[kLarge / 2] == static_cast<char>('a' + t));
        pool.Give(std::move(buffer));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(pool.held_bytes() <= BufferPool::kDefaultByteBudget);
  // What is left is freed by the destructor (ASan: nothing leaks).
}

TEST_CASE("send buffers: large ones come back for the next message, small ones are plain") {
  auto pool = std::make_shared<BufferPool>();
  auto small = MakeSendBuffer(pool, 100);
  CHECK(small->size() == 100);
  const size_t large = codec::kDeframerInitialReserve * 4;
  auto first = MakeSendBuffer(pool, large);
  CHECK(first->size() == large);
  const char* first_data = first->data();
  auto second = MakeSendBuffer(pool, large);  // the first is still being sent: a new one
  CHECK(second->data() != first_data);
  first.reset();  // the I/O thread let go of it
  auto third = MakeSendBuffer(pool, large - 10);
  CHECK(third->data() == first_data);  // reused, resized to the new message
  CHECK(third->size() == large - 10);
}

TEST_CASE("send buffers: the last owner may be another thread, after the writer is gone") {
  std::shared_ptr<std::string> in_flight;
  {
    auto pool = std::make_shared<BufferPool>();
    in_flight = MakeSendBuffer(pool, codec::kDeframerInitialReserve * 2);
  }  // the writer's pool reference is gone; the buffer keeps the pool alive
  std::thread io([buffer = std::move(in_flight)]() mutable { buffer.reset(); });
  io.join();  // ASan: the buffer and the pool are freed exactly once
}

TEST_CASE("buffer pool: feeds a deframer's large messages") {
  BufferPool pool;
  std::string pooled = LargeBuffer(1 << 20);
  const char* pooled_data = pooled.data();
  pool.Give(std::move(pooled));
  codec::Deframer deframer(4 << 20);
  deframer.set_hooks(&BufferPool::kDeframerHooks, &pool);
  const std::string payload((1 << 20) - 100, 'p');
  const std::string frame = codec::EncodeFrame(payload);
  size_t pos = 0;
  while (pos < frame.size()) pos += deframer.Feed(std::string_view(frame).substr(pos, 16384));
  auto message = deframer.Next();
  REQUIRE(message.has_value());
  CHECK(message->payload == payload);
  CHECK(message->payload.data() == pooled_data);
  CHECK(pool.held_bytes() == 0);
}

}  // namespace
}  // namespace h2rpc::transport
