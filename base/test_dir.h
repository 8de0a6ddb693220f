// Directories for tests and benchmarks.
//
//   const std::string dir = base::NewTestDir("replay_log");
#ifndef TRAINBUS_BASE_TEST_DIR_H_
#define TRAINBUS_BASE_TEST_DIR_H_

#include <stdlib.h>  // mkdtemp

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace trainbus::base {

// A new, empty directory `name`.XXXXXX under the test's temporary directory
// ($TEST_TMPDIR under bazel test, else the system's): unique per call, so no
// test sees or removes another's files. Aborts if it cannot be made (the
// machine is broken; nothing after it would mean anything).
inline std::string NewTestDir(const std::string& name) {
  std::string dir = ::testing::TempDir() + name + ".XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) {
    std::fprintf(stderr, "cannot create a directory like %s: %s\n",
                 dir.c_str(), std::strerror(errno));
    std::abort();
  }
  return dir;
}

}  // namespace trainbus::base

#endif  // TRAINBUS_BASE_TEST_DIR_H_
