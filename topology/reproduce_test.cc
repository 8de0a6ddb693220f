#include "topology/reproduce.h"

#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/cli_testing.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "base/test_dir.h"
#include "data/idx.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/nn/model.h"
#include "registry/blob_store.h"
#include "registry/store.h"
#include "topology/manifest.h"
#include "topology/spec.h"
#include "topology/tiny_mnist_testing.h"

namespace trainbus::topology {
namespace {

using ::testing::HasSubstr;

// Trains every model of `spec` on the first `limit` samples of its first
// source, in order: a deterministic stand-in for `trainbus run` (what it
// produces, final checkpoints, is all reproduce looks at). `extra_steps`
// trains that many more batches, to make the weights differ on purpose.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Train(
    const TopologySpec& spec, int extra_steps) {
  TB_ASSIGN_OR_RETURN(data::MnistSplits splits,
                      data::LoadMnistDir(spec.sources.at(0).data_dir));
  const size_t n = std::min<size_t>(spec.sources[0].limit, splits.train.count);
  std::vector<std::pair<std::string, std::string>> out;
  for (const ModelEntry& entry : spec.models) {
    TB_ASSIGN_OR_RETURN(std::unique_ptr<nn::Model> model,
                        nn::MakeModel(entry.spec));
    const size_t batch = entry.spec.batch_size;
    std::vector<float> x(batch * 784);
    std::vector<int32_t> labels(batch);
    const size_t steps = n / batch + extra_steps;
    for (size_t s = 0; s < steps; ++s) {
      for (size_t b = 0; b < batch; ++b) {
        const size_t i = (s * batch + b) % n;
        for (size_t p = 0; p < 784; ++p) {
          x[b * 784 + p] = splits.train.image(i)[p] / 255.0f;
        }
        labels[b] = splits.train.labels[i];
      }
      TB_RETURN_IF_ERROR(model->TrainStep(x.data(), labels.data(), batch).status());
    }
    out.push_back({entry.name, model->SaveCheckpoint()});
  }
  return out;
}

class ReproduceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = base::NewTestDir("reproduce");
    ASSERT_TRUE(WriteTinyMnist(dir_ + "/data", 64, 16).ok());
    spec_text_ = absl::StrCat(
        "name: tiny\n"
        "sources:\n"
        "  - {name: train, kind: idx, data_dir: ", dir_, "/data, output: mnist,"
        " limit: 64, seed: 3}\n"
        "resources: [{name: mnist}, {name: metrics}]\n"
        "models:\n"
        "  - {name: m1, spec: 'softmax:lr=0.1,batch=8', input: mnist, "
        "output: metrics}\n"
        "  - {name: m2, spec: 'mlp:hidden=8,lr=0.05,batch=4,seed=2', "
        "input: mnist, output: metrics}\n");
    registry::StoreOptions options;
    options.root = dir_ + "/registry";
    auto store = registry::Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  // A recorded run of `text`; `reproduces` as a replay sets it.
  absl::StatusOr<RunManifest> RecordedRun(const std::string& text,
                                          int64_t reproduces,
                                          const std::string& out_dir,
                                          int extra_steps = 0) {
    TB_ASSIGN_OR_RETURN(TopologySpec spec, ParseSpec(text));
    RunStart start;
    start.spec_text = text;
    start.spec_origin = "tiny.yaml";
    start.spec = &spec;
    start.reproduces = reproduces;
    start.environment.packages = {"libcaf-dev", "libhwy-dev"};
    TB_ASSIGN_OR_RETURN(RunRecorder recorder,
                        RunRecorder::Begin(*store_, std::move(start)));
    absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ckpts =
        Train(spec, extra_steps);
    if (!ckpts.ok()) {
      TB_RETURN_IF_ERROR(recorder.Fail(ckpts.status().message(), out_dir));
      return ckpts.status();
    }
    return recorder.Finish(*ckpts, out_dir);
  }

  // The replay `trainbus reproduce` would run, in process.
  ReplayFn Replay() {
    return [this](const ReplayRequest& r) {
      return RecordedRun(r.original.spec_text, r.original.run_id, r.out_dir);
    };
  }

  // Records a run of the spec as if another machine had run it: `fake`
  // changes the recorded environment, and the checkpoints are trained
  // `extra_steps` further. Then reproduces it here.
  absl::StatusOr<ReproduceReport> ReproduceAsIfElsewhere(
      const std::function<void(RunManifest&)>& fake, int extra_steps) {
    TB_ASSIGN_OR_RETURN(RunManifest m, RecordedRun(spec_text_, 0, ""));
    fake(m);
    TB_ASSIGN_OR_RETURN(TopologySpec spec, ParseSpec(spec_text_));
    TB_ASSIGN_OR_RETURN(auto ckpts, Train(spec, extra_steps));
    std::vector<registry::DatasetFile> files;
    m.checkpoints.clear();
    for (const auto& [model, bytes] : ckpts) {
      files.push_back({model, bytes});
      m.checkpoints.push_back({model, registry::BlobStore::Sha256Hex(bytes),
                               static_cast<int64_t>(bytes.size())});
    }
    TB_ASSIGN_OR_RETURN(int64_t id, store_->CreateRun("", "tiny", "{}"));
    TB_RETURN_IF_ERROR(store_
                           ->FinishRun(id, registry::RunState::kFinished,
                                       ManifestToJson(m), files)
                           .status());
    return Reproduce(*store_, id, Replay(), dir_ + "/replay");
  }

  std::string dir_;
  std::string spec_text_;
  std::unique_ptr<registry::Store> store_;
};

TEST_F(ReproduceTest, AFinishedRunReproducesBitIdentically) {
  absl::StatusOr<RunManifest> run = RecordedRun(spec_text_, 0, dir_ + "/run");
  ASSERT_TRUE(run.ok()) << run.status();
  absl::StatusOr<ReproduceReport> report =
      Reproduce(*store_, run->run_id, Replay(), dir_ + "/replay");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->bit_identical);
  EXPECT_EQ(report->replay_run_id, run->run_id + 1);
  ASSERT_EQ(report->models.size(), 2u);
  EXPECT_TRUE(report->models[0].identical);
  EXPECT_TRUE(report->differences.empty()) << report->differences[0];
  EXPECT_THAT(FormatReproduceReport(*report),
              HasSubstr("reproduced as run 2: bit-identical (2 models)"));
  // The replay is a run of its own, which says what it reproduced.
  absl::StatusOr<RunManifest> replay = LoadManifest(*store_, 2);
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_EQ(replay->reproduces, run->run_id);
  EXPECT_TRUE(base::ReadFile(dir_ + "/replay/manifest.json").ok());
}

TEST_F(ReproduceTest, OneChangedInputByteIsNamedAsTheCause) {
  absl::StatusOr<RunManifest> run = RecordedRun(spec_text_, 0, "");
  ASSERT_TRUE(run.ok()) << run.status();
  const std::string images = dir_ + "/data/train-images-idx3-ubyte";
  {
    std::fstream f(images, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(16 + 400);  // past the IDX header, inside the first image
    f.put('\x7f');
  }
  absl::StatusOr<ReproduceReport> report =
      Reproduce(*store_, run->run_id, Replay(), dir_ + "/replay");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->bit_identical);
  ASSERT_EQ(report->differences.size(), 1u);
  EXPECT_THAT(report->differences[0], HasSubstr("changed data"));
  EXPECT_THAT(report->differences[0], HasSubstr(images));
  EXPECT_GT(report->models[0].difference.max_abs_difference, 0.0);
  const std::string text = FormatReproduceReport(*report);
  EXPECT_THAT(text, HasSubstr("likely cause: changed data: input file " + images));
  EXPECT_THAT(text, HasSubstr("m1: differs, largest weight difference"));
}

TEST_F(ReproduceTest, ADifferentHighwayTargetIsTheLikelyCause) {
  absl::StatusOr<ReproduceReport> report = ReproduceAsIfElsewhere(
      [](RunManifest& m) { m.environment.highway_target = "FAKE_TARGET"; },
      /*extra_steps=*/1);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->bit_identical);
  ASSERT_FALSE(report->differences.empty());
  EXPECT_EQ(report->differences[0],
            absl::StrCat("a different Highway target: ", nn::KernelTargetName(),
                         ", recorded FAKE_TARGET"));
  const ModelComparison& m1 = report->models[0];
  EXPECT_EQ(m1.model, "m1");
  EXPECT_GT(m1.difference.max_abs_difference, 0.0);
  EXPECT_FALSE(m1.difference.tensor.empty());
  EXPECT_THAT(FormatReproduceReport(*report),
              HasSubstr("likely cause: a different Highway target"));
}

TEST_F(ReproduceTest, ADifferentPackageVersionIsTheLikelyCause) {
  std::string installed;
  absl::StatusOr<ReproduceReport> report = ReproduceAsIfElsewhere(
      [&installed](RunManifest& m) {
        PackageVersion& hwy = m.environment.packages[1];
        EXPECT_EQ(hwy.name, "libhwy-dev");
        installed = hwy.version;
        hwy.version = "0.0.1-fake";
      },
      /*extra_steps=*/2);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->bit_identical);
  ASSERT_EQ(report->differences.size(), 1u);
  EXPECT_EQ(report->differences[0],
            absl::StrCat("a different package version: libhwy-dev is ",
                         installed, ", recorded 0.0.1-fake"));
}

TEST_F(ReproduceTest, NothingRecordedDiffersMeansTheRunIsNotDeterministic) {
  ReproduceReport report;
  report.models.push_back({"m1", "a", "b", false, {}, ""});
  EXPECT_THAT(FormatReproduceReport(report),
              HasSubstr("likely cause: nothing recorded differs"));
}

TEST_F(ReproduceTest, OnlyAFinishedRunCanBeReproduced) {
  absl::StatusOr<int64_t> id = store_->CreateRun("", "tiny", "{}");
  ASSERT_TRUE(id.ok());
  absl::Status s = Reproduce(*store_, *id, Replay(), dir_ + "/r").status();
  // The placeholder manifest is not a manifest: DataLoss names the run.
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), HasSubstr("run 1"));

  absl::StatusOr<TopologySpec> spec = ParseSpec(spec_text_);
  ASSERT_TRUE(spec.ok());
  RunStart start;
  start.spec = &*spec;
  start.environment.packages = {"libcaf-dev"};
  absl::StatusOr<RunRecorder> running = RunRecorder::Begin(*store_, start);
  ASSERT_TRUE(running.ok()) << running.status();
  s = Reproduce(*store_, running->run_id(), Replay(), dir_ + "/r").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("is running"));
}

TEST_F(ReproduceTest, AFailedReplayIsReported) {
  absl::StatusOr<RunManifest> run = RecordedRun(spec_text_, 0, "");
  ASSERT_TRUE(run.ok()) << run.status();
  ReplayFn broken = [](const ReplayRequest&) -> absl::StatusOr<RunManifest> {
    return absl::UnavailableError("no data");
  };
  absl::Status s = Reproduce(*store_, run->run_id, broken, dir_).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("replaying run 1 failed: no data"));
}

TEST(ParseRunId, AcceptsPositiveNumbersOnly) {
  EXPECT_EQ(*ParseRunId("3"), 3);
  for (const char* bad : {"", "abc", "0", "-1", "+2", "3x", "1.5"}) {
    absl::Status s = ParseRunId(bad).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.message(), HasSubstr("not a run number")) << bad;
  }
}

class ReproduceMainTest : public ReproduceTest {
 protected:
  base::CliRun Main(std::vector<std::string> args) {
    return base::RunCli(
        [this](const std::vector<std::string>& a, std::ostream& out,
               std::ostream& err) { return ReproduceMain(a, out, err, Replay()); },
        args);
  }
};

TEST_F(ReproduceMainTest, ReportsBitIdenticalAndExitsZero) {
  absl::StatusOr<RunManifest> run = RecordedRun(spec_text_, 0, "");
  ASSERT_TRUE(run.ok()) << run.status();
  base::CliRun cli = Main({"1", "--registry_dir", store_->root()});
  EXPECT_EQ(cli.code, 0) << cli.err;
  EXPECT_THAT(cli.out, HasSubstr("bit-identical (2 models)"));
  EXPECT_THAT(cli.out, HasSubstr("m2: bit-identical"));
  // The default out_dir is inside the registry.
  EXPECT_TRUE(
      base::ReadFile(store_->root() + "/replays/run-1/manifest.json").ok());
}

TEST_F(ReproduceMainTest, ADifferenceExitsOne) {
  absl::StatusOr<RunManifest> run = RecordedRun(spec_text_, 0, "");
  ASSERT_TRUE(run.ok()) << run.status();
  std::fstream f(dir_ + "/data/train-labels-idx1-ubyte",
                 std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(8);
  f.put('\x09');  // the first label: 0 becomes 9
  f.close();
  base::CliRun cli = Main({"--registry_dir=" + store_->root(), "1"});
  EXPECT_EQ(cli.code, 1) << cli.err;
  EXPECT_THAT(cli.out, HasSubstr("train-labels-idx1-ubyte"));
}

TEST_F(ReproduceMainTest, BadCommandLinesAndUnknownRunsAreClearErrors) {
  base::CliRun cli = Main({"abc", "--registry_dir=" + store_->root()});
  EXPECT_EQ(cli.code, 2);
  EXPECT_THAT(cli.err, HasSubstr("run id 'abc' is not a run number"));

  cli = Main({"99", "--registry_dir=" + store_->root()});
  EXPECT_EQ(cli.code, 2);
  EXPECT_THAT(cli.err, HasSubstr("no run 99 in the registry at"));

  cli = Main({"1", "--registry_dir=" + dir_ + "/no-registry"});
  EXPECT_EQ(cli.code, 2);
  EXPECT_THAT(cli.err, HasSubstr("no registry at"));

  cli = Main({"--registry_dir=" + store_->root()});
  EXPECT_EQ(cli.code, 2);
  EXPECT_THAT(cli.err, HasSubstr("missing RUN_ID"));

  cli = Main({"1", "--colour=red"});
  EXPECT_EQ(cli.code, 2);
  EXPECT_THAT(cli.err, HasSubstr("unknown flag --colour"));

  cli = Main({"--help"});
  EXPECT_EQ(cli.code, 0);
  EXPECT_THAT(cli.out, HasSubstr("usage: trainbus reproduce RUN_ID"));
}

}  // namespace
}  // namespace trainbus::topology
