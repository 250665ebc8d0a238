// SessionAllocator: blocks are reused per size class, the kept memory stays bounded, realloc
// and calloc keep their C meaning, and a pair of real nghttp2 sessions runs on it.
#include <doctest/doctest.h>
#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "transport/session_allocator.h"

namespace h2rpc::transport {
namespace {

TEST_CASE("blocks come back aligned and hold what was asked for") {
  SessionAllocator allocator;
  std::vector<void*> blocks;
  for (size_t size : {1u, 31u, 32u, 33u, 100u, 1000u, 4096u, 4097u, 70000u}) {
    auto* p = static_cast<unsigned char*>(allocator.Allocate(size));
    REQUIRE(p != nullptr);
    CHECK(reinterpret_cast<uintptr_t>(p) % 16 == 0);
    std::memset(p, 0xab, size);  // ASan (or the next block's header) objects if it is short
    blocks.push_back(p);
  }
  for (void* p : blocks) allocator.Release(p);
  allocator.Release(nullptr);
}

TEST_CASE("a freed block serves the next request of its size class") {
  if (!SessionAllocator::kKeepsBlocks) return;  // AddressSanitizer build: plain malloc
  SessionAllocator allocator;
  void* first = allocator.Allocate(200);
  allocator.Release(first);
  CHECK(allocator.kept_blocks() == 1);
  CHECK(allocator.Allocate(129) == first);  // same class (129..256 bytes)
  CHECK(allocator.kept_blocks() == 0);
  void* other = allocator.Allocate(100);  // another class: a new block
  CHECK(other != first);
  allocator.Release(first);
  allocator.Release(other);
  void* large = allocator.Allocate(5000);  // above the largest class: never kept
  allocator.Release(large);
  CHECK(allocator.kept_blocks() == 2);
}

TEST_CASE("each class keeps a bounded number of free blocks") {
  if (!SessionAllocator::kKeepsBlocks) return;
  SessionAllocator allocator;
  for (size_t size : {16u, 2048u}) {
    std::vector<void*> blocks(3000);
    for (void*& p : blocks) p = allocator.Allocate(size);
    for (void* p : blocks) allocator.Release(p);
  }
  // 64 KiB per class: 2048 blocks of 32 bytes, 32 of 2 KiB.
  CHECK(allocator.kept_blocks() == 2048 + 32);
}

TEST_CASE("realloc keeps the contents, calloc zeroes, both through nghttp2_mem") {
  SessionAllocator allocator;
  nghttp2_mem* mem = allocator.mem();
  auto* p = static_cast<char*>(mem->malloc(10, mem->mem_user_data));
  REQUIRE(p != nullptr);
  std::memcpy(p, "0123456789", 10);
  for (size_t size : {20u, 33u, 300u, 5000u, 100000u}) {
    p = static_cast<char*>(mem->realloc(p, size, mem->mem_user_data));
    REQUIRE(p != nullptr);
    CHECK(std::string(p, 10) == "0123456789");
  }
  mem->free(p, mem->mem_user_data);
  auto* zeroes = static_cast<unsigned char*>(mem->calloc(7, 33, mem->mem_user_data));
  REQUIRE(zeroes != nullptr);
  for (size_t i = 0; i < 7 * 33; ++i) REQUIRE(zeroes[i] == 0);
  mem->free(zeroes, mem->mem_user_data);
  CHECK(mem->calloc(SIZE_MAX / 2, 4, mem->mem_user_data) == nullptr);  // overflow, not wrap
}

// Two sessions wired back to back in memory, each on its own allocator.
struct Wire {
  std::string to_server;
  std::string to_client;
  int responses = 0;
  int ends = 0;
};

ssize_t SendToServer(nghttp2_session*, const uint8_t* data, size_t length, int, void* user) {
  static_cast<Wire*>(user)->to_server.append(reinterpret_cast<const char*>(data), length);
  return static_cast<ssize_t>(length);
}
ssize_t SendToClient(nghttp2_session*, const uint8_t* data, size_t length, int, void* user) {
  static_cast<Wire*>(user)->to_client.append(reinterpret_cast<const char*>(data), length);
  return static_cast<ssize_t>(length);
}

nghttp2_nv Header(const char* name, const char* value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name)),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value)), std::strlen(name),
          std::strlen(value), NGHTTP2_NV_FLAG_NONE};
}

ssize_t ReadNothingMore(nghttp2_session*, int32_t, uint8_t*, size_t, uint32_t* flags,
                        nghttp2_data_source*, void*) {
  *flags |= NGHTTP2_DATA_FLAG_EOF;
  return 0;
}

int ServerFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void*) {
  if (frame->hd.type != NGHTTP2_HEADERS || (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) {
    return 0;
  }
  nghttp2_nv response[] = {Header(":status", "200"), Header("content-type", "application/grpc")};
  nghttp2_data_provider none{};
  none.read_callback = ReadNothingMore;
  return nghttp2_submit_response(session, frame->hd.stream_id, response, 2, &none);
}

int ClientFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  if (frame->hd.type == NGHTTP2_HEADERS) ++static_cast<Wire*>(user)->responses;
  if (frame->hd.type == NGHTTP2_DATA && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
    ++static_cast<Wire*>(user)->ends;
  }
  return 0;
}

TEST_CASE("a client and a server session exchange 300 requests on their own allocators") {
  SessionAllocator client_memory;
  SessionAllocator server_memory;
  Wire wire;
  nghttp2_session_callbacks* callbacks = nullptr;
  REQUIRE(nghttp2_session_callbacks_new(&callbacks) == 0);

  nghttp2_session_callbacks_set_send_callback(callbacks, SendToServer);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, ClientFrameRecv);
  nghttp2_session* client = nullptr;
  REQUIRE(nghttp2_session_client_new3(&client, callbacks, &wire, nullptr, client_memory.mem()) ==
          0);
  nghttp2_session_callbacks_set_send_callback(callbacks, SendToClient);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, ServerFrameRecv);
  nghttp2_session* server = nullptr;
  REQUIRE(nghttp2_session_server_new3(&server, callbacks, &wire, nullptr, server_memory.mem()) ==
          0);
  nghttp2_session_callbacks_del(callbacks);
  REQUIRE(nghttp2_submit_settings(client, NGHTTP2_FLAG_NONE, nullptr, 0) == 0);
  REQUIRE(nghttp2_submit_settings(server, NGHTTP2_FLAG_NONE, nullptr, 0) == 0);

  const auto pump = [&] {
    for (int round = 0; round < 8; ++round) {
      REQUIRE(nghttp2_session_send(client) == 0);
      std::string bytes;
      bytes.swap(wire.to_server);
      REQUIRE(nghttp2_session_mem_recv(server, reinterpret_cast<const uint8_t*>(bytes.data()),
                                       bytes.size()) == static_cast<ssize_t>(bytes.size()));
      REQUIRE(nghttp2_session_send(server) == 0);
      bytes.clear();
      bytes.swap(wire.to_client);
      REQUIRE(nghttp2_session_mem_recv(client, reinterpret_cast<const uint8_t*>(bytes.data()),
                                       bytes.size()) == static_cast<ssize_t>(bytes.size()));
    }
  };
  int sent = 0;
  for (int batch = 0; batch < 30; ++batch) {
    for (int i = 0; i < 10; ++i) {
      // A new header value each time: the HPACK tables allocate and evict entries too.
      const std::string value = "v" + std::to_string(sent) + std::string(sent % 50, 'x');
      nghttp2_nv request[] = {
          Header(":method", "POST"), Header(":scheme", "http"), Header(":path", "/pkg.Svc/Method"),
          Header(":authority", "a"), Header("te", "trailers"),  Header("x-varying", value.c_str())};
      REQUIRE(nghttp2_submit_request(client, nullptr, request, 6, nullptr, nullptr) > 0);
      ++sent;
    }
    pump();
  }
  CHECK(wire.responses == sent);
  CHECK(wire.ends == sent);
  nghttp2_session_del(client);
  nghttp2_session_del(server);
  if (SessionAllocator::kKeepsBlocks) {
    CHECK(client_memory.kept_blocks() > 0);  // reuse happened
    CHECK(client_memory.kept_blocks() <= SessionAllocator::kClasses * 256);
  }
}  // the allocators free what they kept; LeakSanitizer (ASan build) checks the rest

}  // namespace
}  // namespace h2rpc::transport
