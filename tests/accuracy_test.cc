// Runs //experiments:accuracy as a user would, on a slice of Fashion-MNIST,
// and checks its exit codes, report and chart. The binary's path comes in as
// argv[1] ($(rootpath //experiments:accuracy)).
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace {

std::string g_binary;

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

Result RunBinary(const std::string& args) {
  Result r;
  const std::string cmd = g_binary + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string TmpDir(const char* name) {
  const char* t = std::getenv("TEST_TMPDIR");
  return std::string(t ? t : "/tmp") + "/" + name;
}

TEST(AccuracyExperimentTest, TrainsChecksTargetsAndWritesTheReport) {
  const std::string out = TmpDir("ok");
  const Result r =
      RunBinary("--train_limit=3000 --test_limit=1000 "
          "--runs='softmax:lr=0.05,avg=0.999@2;mlp:hidden=32,batch=8,"
          "dropout=0.1@1' --targets=softmax=0.5,mlp=0.5 --out_dir=" + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("softmax  epoch  2/2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("mlp      epoch  1/1"), std::string::npos) << r.output;
  const std::string json = ReadFile(out + "/report.json");
  EXPECT_NE(json.find("\"met\":true"), std::string::npos) << json;
  EXPECT_EQ(json.find("\"met\":false"), std::string::npos) << json;
  EXPECT_NE(ReadFile(out + "/accuracy.svg").find("<svg"), std::string::npos);
}

TEST(AccuracyExperimentTest, AMissedTargetIsExitCodeThree) {
  const Result r = RunBinary("--train_limit=500 --test_limit=200 --runs='softmax@1' "
                       "--targets=softmax=0.999 --out_dir=" + TmpDir("missed"));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("NO"), std::string::npos) << r.output;
}

TEST(AccuracyExperimentTest, BadFlagsSayWhatToWrite) {
  Result r = RunBinary("--runs='mlp@zero'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("SPEC@EPOCHS"), std::string::npos) << r.output;
  r = RunBinary("--runs='mlp:hiden=3@1' --train_limit=100 --test_limit=100 --out_dir=");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("unknown key 'hiden'"), std::string::npos) << r.output;
  r = RunBinary("--data_dir=/nonexistent --runs='mlp@1'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("/nonexistent"), std::string::npos) << r.output;
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
