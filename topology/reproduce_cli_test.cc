// `trainbus run` then `trainbus reproduce` as a user runs them: the real
// binary, a real registry and a tiny IDX data set. The replay is the binary's
// own `trainbus run` child.
// Usage (from BUILD): reproduce_cli_test <path to trainbus>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/file.h"
#include "base/program_testing.h"
#include "base/test_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "topology/tiny_mnist_testing.h"

namespace trainbus::topology {
namespace {

using ::testing::HasSubstr;

// Training on a loaded 2-vCPU machine: generous, and still a deadline.
constexpr absl::Duration kDeadline = absl::Seconds(240);

class ReproduceCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = base::NewTestDir("reproduce_cli");
    ASSERT_TRUE(WriteTinyMnist(dir_ + "/data", 96, 20).ok());
    spec_ = dir_ + "/tiny.yaml";
    ASSERT_TRUE(base::WriteFileAtomically(spec_, absl::StrCat(R"(name: tiny
sources:
  - {name: train, kind: idx, data_dir: )", dir_, R"(/data, output: mnist, seed: 3}
evaluation: {data_dir: )", dir_, R"(/data}
resources: [{name: mnist}, {name: m1}, {name: m2}, {name: metrics}]
bindings:
  - {from: mnist, to: m1, filter: labelled, policy: block}
  - {from: mnist, to: m2, filter: labelled, policy: block}
models:
  - {name: m1, spec: 'softmax:lr=0.1,batch=8', input: m1, output: metrics, eval_every: 5}
  - {name: m2, spec: 'mlp:hidden=8,lr=0.05,batch=4', input: m2, output: metrics, eval_every: 5}
)")).ok());
    registry_ = dir_ + "/registry";
  }

  base::ProgramExit Run() {
    return base::RunProgramUnderTest(
        {"run", spec_, "--quiet", "--epochs=2", "--registry_dir=" + registry_,
         "--out_dir=" + dir_ + "/out"},
        kDeadline);
  }

  std::string dir_, spec_, registry_;
};

TEST_F(ReproduceCliTest, AFinishedRunIsBitIdenticalAndAChangedByteIsNamed) {
  base::ProgramExit run = Run();
  ASSERT_EQ(run.code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("run 1 recorded in " + registry_));
  absl::StatusOr<std::string> manifest =
      base::ReadFile(dir_ + "/out/manifest.json");
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_THAT(*manifest, HasSubstr("\"--epochs=2\""));

  base::ProgramExit same = base::RunProgramUnderTest(
      {"reproduce", "1", "--registry_dir=" + registry_}, kDeadline);
  EXPECT_EQ(same.code, 0) << same.output;
  EXPECT_THAT(same.output,
              HasSubstr("run 1 reproduced as run 2: bit-identical (2 models)"));

  const std::string images = dir_ + "/data/train-images-idx3-ubyte";
  {
    std::fstream f(images, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(16 + 300);  // inside the first training image
    f.put('\xff');
  }
  base::ProgramExit changed = base::RunProgramUnderTest(
      {"reproduce", "1", "--registry_dir", registry_, "--out_dir",
       dir_ + "/replay"},
      kDeadline);
  EXPECT_EQ(changed.code, 1) << changed.output;
  EXPECT_THAT(changed.output, HasSubstr("final checkpoints differ"));
  EXPECT_THAT(changed.output, HasSubstr("largest weight difference"));
  EXPECT_THAT(changed.output,
              HasSubstr("likely cause: changed data: input file " + images));
  EXPECT_TRUE(base::ReadFile(dir_ + "/replay/manifest.json").ok());
}

TEST_F(ReproduceCliTest, UnknownAndMalformedRunIdsAreClearErrors) {
  base::ProgramExit run = Run();
  ASSERT_EQ(run.code, 0) << run.output;
  base::ProgramExit unknown = base::RunProgramUnderTest(
      {"reproduce", "7", "--registry_dir=" + registry_});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_THAT(unknown.output, HasSubstr("no run 7 in the registry at"));
  base::ProgramExit malformed = base::RunProgramUnderTest(
      {"reproduce", "run-1", "--registry_dir=" + registry_});
  EXPECT_EQ(malformed.code, 2);
  EXPECT_THAT(malformed.output, HasSubstr("'run-1' is not a run number"));
}

}  // namespace
}  // namespace trainbus::topology

int main(int argc, char** argv) {
  return trainbus::base::RunTestsWithProgram(argc, argv);
}
