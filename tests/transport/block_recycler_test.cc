// BlockRecycler: a freed block serves the next allocation of its size, from any thread; the
// kept blocks stay bounded; other sizes pass through; allocate_shared works over it.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "transport/block_recycler.h"

namespace h2rpc::transport {
namespace {

TEST_CASE("a block freed on another thread serves the next allocation of its size") {
  BlockRecycler recycler(4);
  void* block = recycler.Allocate(960);
  REQUIRE(block != nullptr);
  CHECK(reinterpret_cast<uintptr_t>(block) % __STDCPP_DEFAULT_NEW_ALIGNMENT__ == 0);
  std::memset(block, 0xab, 960);  // ASan objects if it is short
  std::thread([&] { recycler.Release(block, 960); }).join();
  if (!BlockRecycler::kKeepsBlocks) return;  // AddressSanitizer build: plain new/delete
  CHECK(recycler.kept_blocks() == 1);
  CHECK(recycler.Allocate(960) == block);
  CHECK(recycler.kept_blocks() == 0);
  recycler.Release(block, 960);
}

TEST_CASE("blocks of another size pass through; at most `keep` blocks are kept") {
  BlockRecycler recycler(4);
  void* first = recycler.Allocate(100);  // fixes the size
  void* other = recycler.Allocate(200);
  recycler.Release(other, 200);
  std::vector<void*> blocks(10);
  for (void*& p : blocks) p = recycler.Allocate(100);
  recycler.Release(first, 100);
  for (void* p : blocks) recycler.Release(p, 100);
  CHECK(recycler.kept_blocks() == (BlockRecycler::kKeepsBlocks ? 4 : 0));
}

TEST_CASE("allocate_shared over a recycler: object and control block in one recycled block") {
  struct Call {
    Call(int v, bool* destroyed) : value(v), destroyed_flag(destroyed) {}
    ~Call() { *destroyed_flag = true; }
    int value;
    bool* destroyed_flag;
    char body[900];
  };
  BlockRecycler recycler(8);
  bool destroyed = false;
  const void* where = nullptr;
  {
    auto call = std::allocate_shared<Call>(RecyclingAllocator<Call>(&recycler), 7, &destroyed);
    CHECK(call->value == 7);
    where = call.get();
    std::thread([moved = std::move(call)]() mutable { moved.reset(); }).join();  // freed there
  }
  CHECK(destroyed);
  if (!BlockRecycler::kKeepsBlocks) return;
  CHECK(recycler.kept_blocks() == 1);
  auto next = std::allocate_shared<Call>(RecyclingAllocator<Call>(&recycler), 8, &destroyed);
  CHECK(next.get() == where);
  CHECK(next->value == 8);
}

}  // namespace
}  // namespace h2rpc::transport
