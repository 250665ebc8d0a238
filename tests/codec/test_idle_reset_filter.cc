// IdleResetFilter: RST_STREAM frames for client streams no HEADERS opened are dropped; every
// other byte reaches nghttp2 unchanged and in order, however the input is cut.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "codec/idle_reset_filter.h"

namespace h2rpc::codec {
namespace {

const std::string kPreface("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);

std::string Frame(uint8_t type, uint32_t stream_id, const std::string& payload) {
  std::string f;
  f += static_cast<char>(payload.size() >> 16);
  f += static_cast<char>(payload.size() >> 8);
  f += static_cast<char>(payload.size());
  f += static_cast<char>(type);
  f += '\0';  // flags
  f += static_cast<char>((stream_id >> 24) & 0x7f);
  f += static_cast<char>(stream_id >> 16);
  f += static_cast<char>(stream_id >> 8);
  f += static_cast<char>(stream_id);
  return f + payload;
}

std::string Headers(uint32_t id) { return Frame(0x1, id, "hpack"); }
std::string Data(uint32_t id, const std::string& body) { return Frame(0x0, id, body); }
std::string Rst(uint32_t id) { return Frame(0x3, id, std::string("\0\0\0\x08", 4)); }
std::string Settings() { return Frame(0x4, 0, std::string(6, '\0')); }

/// Feeds `input` cut into pieces of `piece` bytes the way ServerConnection does (held bytes
/// first, then a read); returns everything the filter let through.
std::string FilterInPieces(IdleResetFilter& filter, const std::string& input, size_t piece) {
  std::string out;
  for (size_t at = 0; at < input.size(); at += piece) {
    const std::string read = input.substr(at, piece);
    std::vector<uint8_t> buffer(IdleResetFilter::kMaxHeld + read.size());
    const size_t held = filter.held_size();
    std::copy(read.begin(), read.end(), buffer.begin() + static_cast<std::ptrdiff_t>(held));
    filter.Prepend(buffer.data());
    const size_t n = filter.Filter(buffer.data(), held + read.size());
    REQUIRE(n <= held + read.size());
    REQUIRE(filter.held_size() <= IdleResetFilter::kMaxHeld);
    out.append(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
  }
  return out;
}

TEST_CASE("idle reset filter: drops resets of streams never opened, keeps everything else") {
  const std::string input = kPreface + Settings() + Rst(1) + Headers(3) + Data(3, "abc") + Rst(3) +
                            Rst(7) + Headers(5) + Rst(1) + Rst(2) + Data(5, "xyz");
  // Rst(1) before any HEADERS: idle. Rst(3): opened. Rst(7): above every opened id. Rst(1)
  // after HEADERS 3 and 5: closed (implicitly), not idle. Rst(2): a server stream id, nghttp2's.
  const std::string want = kPreface + Settings() + Headers(3) + Data(3, "abc") + Rst(3) +
                           Headers(5) + Rst(1) + Rst(2) + Data(5, "xyz");
  for (size_t piece : {input.size(), size_t{1}, size_t{2}, size_t{5}, size_t{9}, size_t{13},
                       size_t{24}, size_t{25}, size_t{100}}) {
    CAPTURE(piece);
    IdleResetFilter filter;
    CHECK(FilterInPieces(filter, input, piece) == want);
    CHECK(filter.dropped() == 2);
    CHECK(filter.held_size() == 0);
  }
}

TEST_CASE("idle reset filter: the preface and frame payloads are never read as frame headers") {
  // A DATA payload that looks like an idle RST_STREAM frame stays (it is payload, not a frame).
  const std::string input = kPreface + Headers(1) + Data(1, Rst(9)) + Rst(9);
  IdleResetFilter filter;
  CHECK(FilterInPieces(filter, input, 7) == kPreface + Headers(1) + Data(1, Rst(9)));
  CHECK(filter.dropped() == 1);
}

TEST_CASE("idle reset filter: a reset of the wrong length is left for nghttp2 to reject") {
  const std::string bad = Frame(0x3, 9, "12345");
  IdleResetFilter filter;
  CHECK(FilterInPieces(filter, kPreface + bad, 3) == kPreface + bad);
  CHECK(filter.dropped() == 0);
}

TEST_CASE("idle reset filter: a cut frame header is held back, not passed in halves") {
  IdleResetFilter filter;
  std::string input = kPreface + Rst(11).substr(0, 10);
  std::vector<uint8_t> buffer(input.begin(), input.end());
  CHECK(filter.Filter(buffer.data(), buffer.size()) == kPreface.size());
  CHECK(filter.held_size() == 10);
  std::vector<uint8_t> next(IdleResetFilter::kMaxHeld + 3);
  filter.Prepend(next.data());
  const std::string rest = Rst(11).substr(10);
  std::copy(rest.begin(), rest.end(), next.begin() + 10);
  CHECK(filter.Filter(next.data(), 13) == 0);
  CHECK(filter.dropped() == 1);
  CHECK(filter.held_size() == 0);
}

TEST_CASE("idle reset filter: empty input") {
  IdleResetFilter filter;
  CHECK(filter.Filter(nullptr, 0) == 0);
  filter.Prepend(nullptr);
  CHECK(filter.held_size() == 0);
}

}  // namespace
}  // namespace h2rpc::codec
