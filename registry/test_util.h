// Test helpers for the registry: fresh directories under TEST_TMPDIR and
// status matchers.
#ifndef TRAINBUS_REGISTRY_TEST_UTIL_H_
#define TRAINBUS_REGISTRY_TEST_UTIL_H_

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace trainbus::registry::testing {

// A directory path that does not exist yet, unique within the test run.
inline std::string NewTempDir(const std::string& label) {
  static std::atomic<int> counter{0};
  const char* base = std::getenv("TEST_TMPDIR");
  std::string root = base != nullptr ? base : "/tmp";
  return absl::StrCat(root, "/", label, "-", ::getpid(), "-", counter++);
}

}  // namespace trainbus::registry::testing

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

#endif  // TRAINBUS_REGISTRY_TEST_UTIL_H_
