// The `trainbus` binary as a user runs it: every subcommand answers help,
// and read-only registry commands on a mistyped path create nothing.
// Usage (from BUILD): trainbus_test <path to trainbus>
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
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
        {"reproduce", "--help"}, {"registry-node", "--help"}}) {
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

// A registry served by `trainbus registry-node` over TLS, and a runner of
// another process that joins it with the same CA's certificate; SIGTERM
// ends the node cleanly.
TEST(TrainbusTest, ARunnerJoinsARegistryNodeOverTls) {
  const std::string certs = ::testing::TempDir() + "rn-certs";
  const std::string root = ::testing::TempDir() + "rn-registry";
  Result made = RunTrainbus(
      {"cluster-certs", certs, "--nodes=registry,runner"});
  ASSERT_EQ(made.exit, "exited with status 0") << made.output;
  absl::StatusOr<trainbus::base::Subprocess> node =
      trainbus::base::Subprocess::Spawn(
          {g_trainbus, "registry-node", "--registry_dir=" + root,
           "--tls_dir=" + certs},
          {.pipe_stdout = true, .stderr_to_stdout = true});
  ASSERT_TRUE(node.ok()) << node.status();
  std::string port, said;
  while (port.empty()) {
    absl::StatusOr<std::string> line = node->ReadLine(absl::Seconds(60));
    ASSERT_TRUE(line.ok()) << line.status() << said;
    absl::StrAppend(&said, *line, "\n");
    if (absl::StartsWith(*line, "LISTENING 127.0.0.1:")) port = line->substr(20);
  }
  EXPECT_TRUE(absl::StrContains(said, "over TLS")) << said;
  Result runner = RunTrainbus({"runner", "--registry_node=127.0.0.1:" + port,
                               "--tls_dir=" + certs, "--runner_id=r"});
  EXPECT_EQ(runner.exit, "exited with status 0") << runner.output;
  EXPECT_TRUE(absl::StrContains(runner.output, "runner r: claimed 0"))
      << runner.output;
  ASSERT_TRUE(node->Signal(SIGTERM).ok());
  absl::StatusOr<trainbus::base::ExitStatus> exit =
      node->WaitOrKill(absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->Describe(), "exited with status 0");
  // Without a TLS choice the node says what to give and does not start.
  Result bare = RunTrainbus({"registry-node", "--registry_dir=" + root});
  EXPECT_EQ(bare.exit, "exited with status 2") << bare.output;
  EXPECT_TRUE(absl::StrContains(bare.output, "--insecure")) << bare.output;
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
