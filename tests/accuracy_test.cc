// Runs //experiments:accuracy as a user would, on a slice of Fashion-MNIST,
// and checks its exit codes, report and chart. The binary's path comes in as
// argv[1] ($(rootpath //experiments:accuracy)).
//
// Every run has a deadline: a child that outlives it is killed and reaped
// (base::RunProgram).
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "base/program_testing.h"
#include "base/test_dir.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace {

// The whole run of a test case's slice takes a few seconds; 60 s leaves room
// for a loaded machine and still fires well inside the test's own timeout.
constexpr absl::Duration kDeadline = absl::Seconds(60);

using Result = trainbus::base::ProgramExit;

Result RunBinary(std::vector<std::string> args) {
  return trainbus::base::RunProgramUnderTest(std::move(args), kDeadline);
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
  ASSERT_EQ(r.code, 0) << r.output;
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
  // Validation (held-out training images) per epoch, the test split once.
  EXPECT_EQ(runs[0]["val_accuracy"].size(), 2u);
  EXPECT_NE(r.output.find("5000 validation (held out)"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("softmax  test_acc "), std::string::npos) << r.output;
  for (const nlohmann::json& run : runs) {
    EXPECT_TRUE(run.value("met", false)) << run.dump();
    EXPECT_GE(run.value("test_accuracy", 0.0), 0.5) << run.dump();
    EXPECT_GT(run.value("cpu_seconds", 0.0), 0.0) << run.dump();
  }
  EXPECT_NE(ReadFile(out + "/accuracy.svg").find("<svg"), std::string::npos);
}

TEST(AccuracyExperimentTest, AMissedTargetIsExitCodeThree) {
  const std::string out = trainbus::base::NewTestDir("missed");
  const Result r = RunBinary({"--train_limit=500", "--test_limit=200",
                              "--runs=softmax@1", "--targets=softmax=0.999",
                              "--out_dir=" + out});
  EXPECT_EQ(r.code, 3) << r.output;
  const nlohmann::json runs = ReportRuns(out);
  ASSERT_EQ(runs.size(), 1u);
  ASSERT_TRUE(runs[0].contains("met")) << runs[0].dump();
  EXPECT_FALSE(runs[0]["met"].get<bool>()) << runs[0].dump();
  EXPECT_DOUBLE_EQ(runs[0].value("target", 0.0), 0.999);
}

TEST(AccuracyExperimentTest, BadFlagsSayWhatToWrite) {
  Result r = RunBinary({"--runs=mlp@zero"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("SPEC@EPOCHS"), std::string::npos) << r.output;
  r = RunBinary({"--runs=mlp:hiden=3@1", "--train_limit=100",
                 "--test_limit=100", "--out_dir="});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("unknown key 'hiden'"), std::string::npos) << r.output;
  r = RunBinary({"--data_dir=/nonexistent", "--runs=mlp@1", "--out_dir="});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("/nonexistent"), std::string::npos) << r.output;
}

// --target picks a recipe (and is every run's target); an unknown one
// lists the known. A schedule without steps= gets the run's length.
TEST(AccuracyExperimentTest, TargetsPickRecipesAndSchedulesGetTheRunLength) {
  Result r = RunBinary({"--target=0.5", "--out_dir="});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("no recipe for --target=0.5; use 0.925 or 0.94"),
            std::string::npos)
      << r.output;
  r = RunBinary({"--train_limit=640", "--test_limit=100", "--holdout=500",
                 "--runs=mlp:hidden=16,batch=64,sched=onecycle,bn=1@2",
                 "--target=0.05", "--notest", "--out_dir="});
  EXPECT_EQ(r.code, 0) << r.output;
  // 2 epochs x 640 / 64 = 20 steps.
  EXPECT_NE(r.output.find("sched=onecycle,steps=20,"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("500 validation"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("test_acc 0"), std::string::npos) << r.output;
  r = RunBinary({"--holdout=60000", "--runs=mlp@1", "--out_dir="});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--holdout=60000 leaves none"), std::string::npos)
      << r.output;
}

TEST(AccuracyExperimentTest, AnUnwritableOutDirFailsBeforeTraining) {
  // A directory cannot be made under a regular file, whoever runs the test.
  const std::string file = trainbus::base::NewTestDir("a_file") + "/file";
  std::ofstream(file) << "x";
  const Result r = RunBinary({"--runs=softmax@1", "--out_dir=" + file + "/out"});
  EXPECT_EQ(r.code, 2) << r.output;
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
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find("bad_alloc"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("4.3 G parameters"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("max_params=4347133962"), std::string::npos)
      << r.output;
}

}  // namespace

int main(int argc, char** argv) {
  return trainbus::base::RunTestsWithProgram(argc, argv);
}
