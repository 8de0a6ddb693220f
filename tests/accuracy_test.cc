// Runs //experiments:accuracy as a user would, on a slice of Fashion-MNIST,
// and checks its exit codes, report and chart. The binary's path comes in as
// argv[1] ($(rootpath //experiments:accuracy)).
//
// Every run has a deadline: a child that outlives it is killed, and the child
// is reaped on every path (Child's destructor).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/test_dir.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

std::string g_binary;

// The whole run of a test case's slice takes a few seconds; 60 s leaves room
// for a loaded machine and still fires well inside the test's own timeout.
constexpr std::chrono::seconds kDeadline{60};

struct Result {
  int exit_code = -1;   // -1: killed by a signal or not started
  bool timed_out = false;
  std::string output;   // stdout and stderr
};

// A child process with its stdout and stderr on one pipe; killed and reaped
// when it goes out of scope.
class Child {
 public:
  explicit Child(const std::vector<std::string>& args) {
    int fds[2];
    if (pipe(fds) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) !=
        0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    fd_ = fds[0];
  }
  ~Child() {
    if (fd_ >= 0) close(fd_);
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Reads until EOF, then reaps; kills the child at `deadline`.
  Result Wait(Clock::time_point deadline) {
    Result r;
    if (pid_ <= 0 || fd_ < 0) {
      r.output = "could not start " + g_binary;
      return r;
    }
    char buf[4096];
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - Clock::now());
      if (left.count() <= 0) {
        r.timed_out = true;
        break;
      }
      pollfd p{fd_, POLLIN, 0};
      const int ready = poll(&p, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) continue;  // timeout: the loop head notices
      const ssize_t n = read(fd_, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // EOF: the child closed its output
      r.output.append(buf, static_cast<size_t>(n));
    }
    if (r.timed_out) kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
};

Result RunBinary(std::vector<std::string> args) {
  args.insert(args.begin(), g_binary);
  Child child(args);
  Result r = child.Wait(Clock::now() + kDeadline);
  EXPECT_FALSE(r.timed_out) << "accuracy did not finish within "
                            << kDeadline.count() << " s; output so far:\n"
                            << r.output;
  return r;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The runs of report.json; an empty array (and a test failure) if it is
// missing or not JSON.
nlohmann::json ReportRuns(const std::string& dir) {
  const std::string text = ReadFile(dir + "/report.json");
  const nlohmann::json report =
      nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (report.is_discarded() || !report.is_object() ||
      !report.contains("runs") || !report["runs"].is_array()) {
    ADD_FAILURE() << dir << "/report.json is not a report: " << text;
    return nlohmann::json::array();
  }
  return report["runs"];
}

TEST(AccuracyExperimentTest, TrainsChecksTargetsAndWritesTheReport) {
  const std::string out = trainbus::base::NewTestDir("ok");
  const Result r = RunBinary(
      {"--train_limit=3000", "--test_limit=1000",
       "--runs=softmax:lr=0.05,avg=0.999@2;mlp:hidden=32,batch=8,"
       "dropout=0.1@1",
       "--targets=softmax=0.5,mlp=0.5", "--out_dir=" + out});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("softmax  epoch  2/2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("mlp      epoch  1/1"), std::string::npos) << r.output;
  // Each run describes its size and cost before it trains.
  EXPECT_NE(r.output.find("softmax: 7.8 k parameters"), std::string::npos)
      << r.output;
  EXPECT_LT(r.output.find("mlp: 25."),
            r.output.find("mlp      epoch  1/1"))
      << r.output;
  const nlohmann::json runs = ReportRuns(out);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].value("arch", ""), "softmax");
  EXPECT_EQ(runs[1].value("arch", ""), "mlp");
  EXPECT_EQ(runs[0]["test_accuracy"].size(), 2u);
  for (const nlohmann::json& run : runs) {
    EXPECT_TRUE(run.value("met", false)) << run.dump();
    EXPECT_GE(run.value("final_test_accuracy", 0.0), 0.5) << run.dump();
  }
  EXPECT_NE(ReadFile(out + "/accuracy.svg").find("<svg"), std::string::npos);
}

TEST(AccuracyExperimentTest, AMissedTargetIsExitCodeThree) {
  const std::string out = trainbus::base::NewTestDir("missed");
  const Result r = RunBinary({"--train_limit=500", "--test_limit=200",
                              "--runs=softmax@1", "--targets=softmax=0.999",
                              "--out_dir=" + out});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  const nlohmann::json runs = ReportRuns(out);
  ASSERT_EQ(runs.size(), 1u);
  ASSERT_TRUE(runs[0].contains("met")) << runs[0].dump();
  EXPECT_FALSE(runs[0]["met"].get<bool>()) << runs[0].dump();
  EXPECT_DOUBLE_EQ(runs[0].value("target", 0.0), 0.999);
}

TEST(AccuracyExperimentTest, BadFlagsSayWhatToWrite) {
  Result r = RunBinary({"--runs=mlp@zero"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("SPEC@EPOCHS"), std::string::npos) << r.output;
  r = RunBinary({"--runs=mlp:hiden=3@1", "--train_limit=100",
                 "--test_limit=100", "--out_dir="});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("unknown key 'hiden'"), std::string::npos) << r.output;
  r = RunBinary({"--data_dir=/nonexistent", "--runs=mlp@1", "--out_dir="});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("/nonexistent"), std::string::npos) << r.output;
}

TEST(AccuracyExperimentTest, AnUnwritableOutDirFailsBeforeTraining) {
  // A directory cannot be made under a regular file, whoever runs the test.
  const std::string file = trainbus::base::NewTestDir("a_file") + "/file";
  std::ofstream(file) << "x";
  const Result r = RunBinary({"--runs=softmax@1", "--out_dir=" + file + "/out"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(
      r.output.find("--out_dir: cannot create directory '" + file + "/out'"),
      std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("epoch"), std::string::npos)
      << "trained before checking --out_dir:\n" << r.output;
}

TEST(AccuracyExperimentTest, AnOversizedModelIsRefusedWithItsSize) {
  const Result r =
      RunBinary({"--runs=mlp:hidden=65536x65536@1", "--train_limit=100",
                 "--test_limit=100", "--out_dir="});
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("bad_alloc"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("4.3 G parameters"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("max_params=4347133962"), std::string::npos)
      << r.output;
}

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: accuracy_test PATH_TO_ACCURACY_BINARY\n");
    return 2;
  }
  g_binary = argv[1];
  return RUN_ALL_TESTS();
}
