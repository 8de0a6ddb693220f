// For tests that run a program as a user would: its path comes in as argv[1]
// (`runs = "//pkg:binary"` in tools/cc.bzl's tb_cc_test), and each run has a
// deadline after which the program is killed and the test fails.
//
//   int main(int argc, char** argv) {
//     return trainbus::base::RunTestsWithProgram(argc, argv);
//   }
//   ...
//   base::ProgramExit r = base::RunProgramUnderTest({"--epochs=0"});
//   EXPECT_EQ(r.code, 2) << r.output;
#ifndef TRAINBUS_BASE_PROGRAM_TESTING_H_
#define TRAINBUS_BASE_PROGRAM_TESTING_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "base/subprocess.h"
#include "gtest/gtest.h"

namespace trainbus::base {

// The path of the program under test (argv[1] of the test binary).
inline std::string& ProgramUnderTest() {
  static std::string* program = new std::string;
  return *program;
}

// A main() for such tests: takes the program's path, then runs the tests.
inline int RunTestsWithProgram(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc > 1) ProgramUnderTest() = argv[1];
  return RUN_ALL_TESTS();
}

struct ProgramExit {
  int code = -1;       // as a shell reports it; -1 if it did not run to its end
  std::string output;  // stdout and stderr
};

// Runs the program under test with `args` to its end; not starting or
// outliving `timeout` is a test failure (and code -1).
inline ProgramExit RunProgramUnderTest(std::vector<std::string> args,
                                       absl::Duration timeout = absl::Seconds(20)) {
  ProgramExit out;
  if (ProgramUnderTest().empty()) {
    ADD_FAILURE() << "pass the program's path as the test's first argument";
    return out;
  }
  args.insert(args.begin(), ProgramUnderTest());
  absl::StatusOr<ProgramRun> run = RunProgram(args, timeout);
  if (!run.ok()) {
    ADD_FAILURE() << run.status();
    return out;
  }
  out.code = run->exit.ShellCode();
  out.output = std::move(run->output);
  return out;
}

}  // namespace trainbus::base

#endif  // TRAINBUS_BASE_PROGRAM_TESTING_H_
