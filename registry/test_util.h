// Test helpers for the registry: fresh directories under TEST_TMPDIR and
// status matchers.
#ifndef TRAINBUS_REGISTRY_TEST_UTIL_H_
#define TRAINBUS_REGISTRY_TEST_UTIL_H_

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "registry/records.h"

namespace trainbus::registry::testing {

// A directory path that does not exist yet, unique within the test run,
// under the test's temporary directory (TEST_TMPDIR under Bazel).
inline std::string NewTempDir(const std::string& label) {
  static std::atomic<int> counter{0};
  return absl::StrCat(::testing::TempDir(), label, "-", ::getpid(), "-",
                      counter++);
}

// A task as the tests create it: project "mnist", experiment
// "parallel_models", keeping test_accuracy.
inline TaskSpec TestTask(const std::string& name, int max_attempts = 3,
                         KeyValues hyperparameters = {{"lr", "0.1"}}) {
  TaskSpec spec;
  spec.project = "mnist";
  spec.name = name;
  spec.experiment = "parallel_models";
  spec.hyperparameters = std::move(hyperparameters);
  spec.result_keys = {"test_accuracy"};
  spec.max_attempts = max_attempts;
  return spec;
}

}  // namespace trainbus::registry::testing

namespace trainbus::registry {

// The value of `s`, or (after failing the test) a default one, so that a
// broken call fails the test instead of crashing the binary:
//   EXPECT_EQ(OrFail(store->CheckUnfinished()), 0);
template <typename T>
T OrFail(absl::StatusOr<T> s) {
  if (!s.ok()) {
    ADD_FAILURE() << s.status();
    return T{};
  }
  return *std::move(s);
}

}  // namespace trainbus::registry

#define TB_ASSERT_OK(expr)                        \
  do {                                            \
    auto tb_s_ = (expr);                          \
    ASSERT_TRUE(tb_s_.ok()) << tb_s_;             \
  } while (0)

#define TB_EXPECT_OK(expr)                        \
  do {                                            \
    auto tb_s_ = (expr);                          \
    EXPECT_TRUE(tb_s_.ok()) << tb_s_;             \
  } while (0)

// Fails the test (and returns from it) unless `expr`, a StatusOr, holds a
// value, which then initialises `lhs`:
//   TB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, Store::Open(o));
#define TB_ASSERT_OK_AND_ASSIGN(lhs, expr) \
  TB_ASSERT_OK_AND_ASSIGN_IMPL(TB_TEST_CONCAT(tb_or_, __LINE__), lhs, expr)
#define TB_TEST_CONCAT_INNER(a, b) a##b
#define TB_TEST_CONCAT(a, b) TB_TEST_CONCAT_INNER(a, b)
#define TB_ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  ASSERT_TRUE(tmp.ok()) << tmp.status();             \
  lhs = std::move(*tmp)

#endif  // TRAINBUS_REGISTRY_TEST_UTIL_H_
