// A doctest listener that names each test case on stderr as it starts. When a sanitizer or a
// test timeout kills the process, doctest cannot report which case was running (its SIGTERM
// handler is not async-signal-safe, and TSan halts on that); the last "[case]" line can.
#pragma once

#include <doctest/doctest.h>

#include <cstdio>

namespace h2rpc_tests {

struct CaseTrace : doctest::IReporter {
  explicit CaseTrace(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData& data) override {
    std::fprintf(stderr, "[case] %s\n", data.m_name);
  }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace h2rpc_tests

DOCTEST_REGISTER_LISTENER("case_trace", 1, h2rpc_tests::CaseTrace);
