// doctest entry point of codec_tests: one executable for every codec suite.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
