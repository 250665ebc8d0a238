// doctest's runner and the case-trace listener, compiled once and linked into every test
// executable: the implementation is the slowest file of any test to compile (20 s at -O2 -g).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "tests/case_trace.h"
