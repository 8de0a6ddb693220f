// The `trainbus` binary as a user runs it: every subcommand answers help,
// and read-only registry commands on a mistyped path create nothing.
// Usage (from BUILD): trainbus_test <path to trainbus>
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/subprocess.h"
#include "gtest/gtest.h"

namespace {

std::string g_trainbus;

struct Result {
  std::string exit;    // "exited with status 0", or why it did not end
  std::string output;  // stdout and stderr
};

Result RunTrainbus(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {g_trainbus};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<trainbus::base::Subprocess> child =
      trainbus::base::Subprocess::Spawn(
          argv, {.pipe_stdout = true, .stderr_to_stdout = true});
  if (!child.ok()) return {child.status().ToString(), ""};
  Result result;
  while (true) {
    absl::StatusOr<std::string> line = child->ReadLine(absl::Seconds(30));
    if (!line.ok()) {
      if (!absl::IsOutOfRange(line.status())) {
        result.output += line.status().ToString();
      }
      break;
    }
    absl::StrAppend(&result.output, *line, "\n");
  }
  absl::StatusOr<trainbus::base::ExitStatus> exit =
      child->Wait(absl::Seconds(30));
  result.exit = exit.ok() ? exit->Describe() : exit.status().ToString();
  return result;
}

TEST(TrainbusTest, EverySubcommandAnswersHelp) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"help"}, {"--help"}, {"registry", "help"},
        {"registry", "ls", "--help"}, {"runner", "help"},
        {"runner", "--help"}, {"validate", "--help"}, {"describe", "--help"},
        {"run", "--help"}, {"run", "help"}, {"node", "--help"},
        {"node", "help"}, {"run", "x.yaml", "--nodes=w1=h:1", "--help"},
        {"reproduce", "--help"}}) {
    Result r = RunTrainbus(args);
    EXPECT_EQ(r.exit, "exited with status 0") << args.back() << r.output;
    EXPECT_TRUE(absl::StartsWith(r.output, "usage: trainbus")) << r.output;
    EXPECT_FALSE(absl::StrContains(r.output, "unexpected argument"));
  }
}

TEST(TrainbusTest, RegistryCommandsOnAMistypedPathCreateNothing) {
  const std::string typo = ::testing::TempDir() + "no-such-registry";
  for (const char* command : {"ls", "tasks", "unfinished", "verify"}) {
    Result r = RunTrainbus({"registry", command, "--registry_dir=" + typo});
    EXPECT_EQ(r.exit, "exited with status 1") << command;
    EXPECT_TRUE(absl::StrContains(r.output, "no registry at '" + typo + "'"))
        << r.output;
    struct stat st;
    EXPECT_NE(::stat(typo.c_str(), &st), 0) << command << " created it";
  }
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <path to trainbus>\n", argv[0]);
    return 2;
  }
  g_trainbus = argv[1];
  return RUN_ALL_TESTS();
}
