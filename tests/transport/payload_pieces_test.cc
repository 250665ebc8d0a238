// Tests of transport/payload_pieces: read slabs whose bytes large messages keep by reference,
// and the bound on how much memory those references may keep alive.
#include "transport/payload_pieces.h"

#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <thread>

namespace h2rpc::transport {
namespace {

constexpr size_t kSlab = 64 * 1024;

/// Simulates one socket read of `bytes` into `slab`; returns where they landed.
uint8_t* ReadInto(ReadSlab& slab, const std::string& bytes) {
  const std::span<uint8_t> room = slab.PrepareRead();
  REQUIRE(room.size() >= bytes.size());
  std::memcpy(room.data(), bytes.data(), bytes.size());
  slab.OnRead(bytes.size());
  return room.data();
}

std::string Flat(const PayloadPieces& pieces) {
  std::string out;
  FlattenPieces(pieces, &out);
  return out;
}

TEST_CASE("payload pieces: a large payload is referenced in place, across reads and slabs") {
  ReadSlab slab(kSlab);
  PayloadAssembly assembly;
  std::string expected;
  const uint8_t* first_slab = nullptr;
  for (int i = 0; i < 6; ++i) {  // six 30 KiB reads: the third starts a new slab
    const std::string bytes(30 * 1024, static_cast<char>('a' + i));
    const uint8_t* at = ReadInto(slab, bytes);
    if (i == 0) first_slab = at;
    assembly.Add(slab, at + 10, bytes.size() - 10);  // as nghttp2 would, after a frame header
    slab.FinishRead();
    expected += bytes.substr(10);
  }
  CHECK(assembly.bytes() == expected.size());
  PayloadPieces pieces = assembly.Take();
  CHECK(pieces.size() == 6);
  CHECK(pieces[0].data == first_slab + 10);   // a reference, not a copy
  CHECK(pieces[2].owner != pieces[0].owner);  // the first slab had no room for a third read
  CHECK(PiecesSize(pieces) == expected.size());
  CHECK(Flat(pieces) == expected);
  CHECK(assembly.bytes() == 0);
}

TEST_CASE("payload pieces: bytes nobody referenced are read over; referenced ones never") {
  ReadSlab slab(kSlab);
  const uint8_t* unpinned = ReadInto(slab, "small message, copied by the deframer");
  slab.FinishRead();
  // Nothing kept: the next read lands at the same place.
  const uint8_t* again = ReadInto(slab, std::string(1000, 'x'));
  CHECK(again == unpinned);
  PayloadAssembly assembly;
  assembly.Add(slab, again, 1000);
  slab.FinishRead();
  const uint8_t* after = ReadInto(slab, std::string(1000, 'y'));
  CHECK(after == again + 1000);  // the kept bytes are left alone
  slab.FinishRead();
  CHECK(Flat(assembly.Take()) == std::string(1000, 'x'));
}

TEST_CASE("payload pieces: bytes outside the last read are copied") {
  ReadSlab slab(kSlab);
  ReadInto(slab, std::string(100, 'r'));
  const std::string elsewhere(5000, 'e');
  PayloadAssembly assembly;
  assembly.Add(slab, reinterpret_cast<const uint8_t*>(elsewhere.data()), elsewhere.size());
  slab.FinishRead();
  PayloadPieces pieces = assembly.Take();
  REQUIRE(pieces.size() == 1);
  CHECK(pieces[0].data != reinterpret_cast<const uint8_t*>(elsewhere.data()));
  CHECK(Flat(pieces) == elsewhere);
}

TEST_CASE("payload pieces: buffers kept alive stay within 3x the payload plus three slabs") {
  // A hostile peer spreads a message thin: one tiny DATA chunk per read, the rest of each read
  // for other streams. Referencing every chunk would keep a whole slab per few bytes alive.
  ReadSlab slab(kSlab);
  PayloadAssembly assembly;
  std::string expected;
  size_t reads = 0;
  for (int i = 0; i < 400; ++i) {
    const std::string bytes(kSlab, static_cast<char>('0' + i % 10));  // fills the slab
    const uint8_t* at = ReadInto(slab, bytes);
    assembly.Add(slab, at + 7, 3);
    slab.FinishRead();
    expected += bytes.substr(7, 3);
    ++reads;
  }
  PayloadPieces pieces = assembly.Take();
  CHECK(Flat(pieces) == expected);
  // The owners the pieces keep alive: distinct buffers, each counted at its full size.
  size_t kept = 0;
  const uint8_t* last_owner = nullptr;
  for (const PayloadPiece& piece : pieces) {
    if (piece.owner.get() != last_owner) kept += kSlab;
    last_owner = piece.owner.get();
  }
  CHECK(kept <= 3 * expected.size() + 3 * kSlab);  // copy buffers are kSlab bytes too
  CHECK(pieces.size() < 10);  // copies coalesce into buffers instead of one piece per chunk
  CHECK(reads == 400);
}

TEST_CASE("payload pieces: interleaved messages each keep their own bytes") {
  ReadSlab slab(kSlab);
  PayloadAssembly a;
  PayloadAssembly b;
  std::string want_a;
  std::string want_b;
  for (int i = 0; i < 40; ++i) {
    std::string bytes(32 * 1024, 'a');
    std::memset(bytes.data() + 16 * 1024, 'b', 16 * 1024);
    bytes[0] = static_cast<char>('A' + i % 26);
    const uint8_t* at = ReadInto(slab, bytes);
    a.Add(slab, at, 16 * 1024);
    b.Add(slab, at + 16 * 1024, 16 * 1024);
    slab.FinishRead();
    want_a += bytes.substr(0, 16 * 1024);
    want_b += bytes.substr(16 * 1024);
  }
  PayloadPieces pieces_a = a.Take();
  PayloadPieces pieces_b = b.Take();
  CHECK(Flat(pieces_a) == want_a);
  CHECK(Flat(pieces_b) == want_b);
}

TEST_CASE("payload pieces: a reader thread lets go of slabs the I/O thread still reads into") {
  // TSan/ASan: the reader reads and frees the old bytes while the next read fills the slab.
  ReadSlab slab(kSlab);
  for (int round = 0; round < 200; ++round) {
    PayloadAssembly assembly;
    const std::string bytes(8 * 1024, static_cast<char>('a' + round % 26));
    assembly.Add(slab, ReadInto(slab, bytes), bytes.size());
    slab.FinishRead();
    std::thread reader([pieces = assembly.Take(), &bytes]() mutable {
      CHECK(Flat(pieces) == bytes);
      pieces.clear();
    });
    ReadInto(slab, std::string(4 * 1024, 'n'));
    slab.FinishRead();
    reader.join();
  }
}

}  // namespace
}  // namespace h2rpc::transport
