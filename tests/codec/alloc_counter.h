// Counts bytes allocated through operator new in codec_tests, so tests can assert memory
// bounds (a bomb or a lying length prefix must not cost what it claims) instead of hoping.
#pragma once

#include <cstddef>

namespace h2rpc::codec::testing {

/// Measures the peak of live operator-new bytes between construction and Peak(), relative to
/// the live bytes at construction. Not thread-safe across concurrent scopes (tests are serial).
/// zlib's own state uses malloc directly and is not counted (it is fixed, about 40 KiB).
class AllocationScope {
 public:
  AllocationScope();
  /// Largest number of bytes allocated on top of the starting point at any moment.
  size_t Peak() const;

 private:
  size_t start_;
};

}  // namespace h2rpc::codec::testing
