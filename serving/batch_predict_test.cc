// `trainbus predict`: rows equal the model's own Predict, bad inputs, model
// references, the registry CLI view, and atomic batches under a real
// SIGKILL of the real binary.
#include "serving/batch_predict.h"

#include <signal.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/cli_testing.h"
#include "base/program_testing.h"
#include "base/subprocess.h"
#include "data/idx.h"
#include "data/image.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "serving/predict_testing.h"

namespace trainbus::serving {
namespace {

using FloatJson = nlohmann::basic_json<std::map, std::vector, std::string, bool,
                                       std::int64_t, std::uint64_t, float>;

constexpr char kProject[] = "shop";
constexpr char kModel[] = "fashion";

std::string WriteImagesIdx(const data::Dataset& d, const std::string& dir) {
  const std::string path = dir + "/images-idx3-ubyte";
  const uint32_t dims[] = {static_cast<uint32_t>(d.count), d.rows, d.cols};
  EXPECT_TRUE(data::WriteIdx(path, dims, d.pixels).ok());
  return path;
}

class BatchPredictTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_ = Blocks(25, 11);
    model_ = TrainedSoftmax(Blocks(100, 1), 3);
    root_ = RegistryWith(kProject, kModel, *model_);
    store_ = OpenStore(root_);
    idx_ = WriteImagesIdx(set_, base::NewTestDir("inputs"));
  }

  BatchPredictOptions Options(size_t batch_size) const {
    BatchPredictOptions o;
    o.model = absl::StrCat(kProject, "/", kModel, "@production");
    o.input = idx_;
    o.batch_size = batch_size;
    o.run = "test-run";
    return o;
  }

  data::Dataset set_;
  std::unique_ptr<nn::Model> model_;
  std::string root_;
  std::unique_ptr<registry::Store> store_;
  std::string idx_;
};

TEST_F(BatchPredictTest, RowsAreTheModelsOwnPredictBitForBit) {
  absl::StatusOr<BatchPredictResult> r = RunBatchPredict(*store_, Options(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows, 25);
  EXPECT_EQ(r->errors, 0);
  EXPECT_EQ(r->model_version, 1);
  ASSERT_EQ(r->batch_ids.size(), 3u);  // 10 + 10 + 5
  size_t next = 0;
  for (int64_t id : r->batch_ids) {
    absl::StatusOr<std::vector<registry::PredictionRow>> rows =
        store_->GetPredictions(id);
    ASSERT_TRUE(rows.ok()) << rows.status();
    // The same inputs in the same batch as the run: the GEMM sums in an
    // order that depends on the batch size, so compare like with like.
    const size_t n = rows->size();
    std::vector<float> x = FloatsOf(set_, next, n), probs(n * 10);
    ASSERT_TRUE(model_->Predict(x.data(), n, probs.data()).ok());
    for (size_t i = 0; i < n; ++i) {
      const registry::PredictionRow& row = (*rows)[i];
      EXPECT_EQ(row.input, absl::StrCat("idx:", idx_, ":", next + i));
      EXPECT_TRUE(row.error.empty()) << row.error;
      FloatJson scores = FloatJson::parse(row.scores);
      ASSERT_EQ(scores.size(), 10u);
      int best = 0;
      for (int c = 0; c < 10; ++c) {
        EXPECT_EQ(scores[c].get<float>(), probs[i * 10 + c])
            << row.input << " class " << c;
        if (probs[i * 10 + c] > probs[i * 10 + best]) best = c;
      }
      EXPECT_EQ(row.label, best);
      EXPECT_EQ(row.label, set_.labels[next + i]) << "the model learned blocks";
    }
    next += n;
  }
  absl::StatusOr<std::vector<registry::PredictionBatch>> batches =
      store_->ListPredictionBatches("test-run");
  ASSERT_TRUE(batches.ok()) << batches.status();
  ASSERT_EQ(batches->size(), 3u);
  EXPECT_EQ((*batches)[2].rows, 5);
  EXPECT_EQ((*batches)[0].model, kModel);
  EXPECT_EQ((*batches)[0].project, kProject);
}

TEST_F(BatchPredictTest, ModelByAliasVersionOrLatestAndClearErrors) {
  ASSERT_TRUE(store_
                  ->SaveModel(kProject, kModel,
                              nn::FormatModelSpec(model_->spec()),
                              model_->SaveCheckpoint(), {})
                  .ok());
  const std::vector<std::pair<std::string, int64_t>> refs = {
      {"shop/fashion@production", 1},
      {"shop/fashion@2", 2},
      {"shop/fashion", 2},
      {"shop/fashion@1", 1}};
  for (const auto& [ref, version] : refs) {
    BatchPredictOptions o = Options(100);
    o.model = ref;
    absl::StatusOr<BatchPredictResult> r = RunBatchPredict(*store_, o);
    ASSERT_TRUE(r.ok()) << ref << ": " << r.status();
    EXPECT_EQ(r->model_version, version) << ref;
  }
  BatchPredictOptions o = Options(100);
  o.model = "shop/fashion@canary";
  EXPECT_TRUE(absl::StrContains(RunBatchPredict(*store_, o).status().message(),
                                "canary"));
  o = Options(100);
  o.input = idx_ + ".missing";
  EXPECT_TRUE(absl::StrContains(RunBatchPredict(*store_, o).status().message(),
                                "does not exist"));
}

TEST_F(BatchPredictTest, WrongShapeIsRefusedBeforeAnythingIsWritten) {
  data::Dataset small;
  small.rows = small.cols = 20;
  small.count = 3;
  small.pixels.assign(3 * 400, 7);
  BatchPredictOptions o = Options(10);
  o.input = WriteImagesIdx(small, base::NewTestDir("small"));
  absl::Status s = RunBatchPredict(*store_, o).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), o.input)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "20x20")) << s;
  auto batches = store_->ListPredictionBatches();
  ASSERT_TRUE(batches.ok());
  EXPECT_TRUE(batches->empty());
}

TEST_F(BatchPredictTest, CorruptImageGetsAnErrorRowAndTheRestArePredicted) {
  const std::string dir = base::NewTestDir("images");
  for (int i = 0; i < 3; ++i) {
    data::Image image(28, 28, 0);
    image.pixels.assign(set_.image(i), set_.image(i) + 784);
    absl::StatusOr<std::vector<uint8_t>> png = data::EncodePng(image);
    ASSERT_TRUE(png.ok());
    std::ofstream(absl::StrCat(dir, "/", i, ".png"), std::ios::binary)
        .write(reinterpret_cast<const char*>(png->data()), png->size());
  }
  std::ofstream(dir + "/1b-broken.jpg") << "not a jpeg at all";
  BatchPredictOptions o = Options(10);
  o.input = dir;
  o.jsonl = base::NewTestDir("out") + "/rows.jsonl";
  absl::StatusOr<BatchPredictResult> r = RunBatchPredict(*store_, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows, 4);
  EXPECT_EQ(r->errors, 1);
  auto rows = store_->GetPredictions(r->batch_ids[0]);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 4u);  // 0.png 1.png 1b-broken.jpg 2.png
  const registry::PredictionRow& broken = (*rows)[2];
  EXPECT_EQ(broken.input, dir + "/1b-broken.jpg");
  EXPECT_EQ(broken.label, -1);
  EXPECT_EQ(broken.scores, "[]");
  EXPECT_TRUE(absl::StrContains(broken.error, "1b-broken.jpg")) << broken.error;
  EXPECT_EQ((*rows)[3].label, set_.labels[2]);
  std::ifstream jsonl(o.jsonl);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(jsonl, line);) {
    lines.push_back(nlohmann::json::parse(line));
  }
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[2]["error"], broken.error);
  EXPECT_EQ(lines[3]["label"], (*rows)[3].label);
  EXPECT_EQ(lines[3]["batch"], r->batch_ids[0]);
}

TEST_F(BatchPredictTest, CommandLineAndRegistryView) {
  base::CliRun bad = base::RunCli(PredictMain, {"--model=x"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_TRUE(absl::StrContains(bad.err, "--input is required")) << bad.err;
  base::CliRun zero =
      base::RunCli(PredictMain, {"--model=x", "--input=y", "--batch_size=0"});
  EXPECT_EQ(zero.code, 2);
  base::CliRun run = base::RunCli(
      PredictMain,
      {"--registry_dir=" + root_, "--model=shop/fashion@production",
       "--input=" + idx_, "--batch_size=20", "--run=cli"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(absl::StrContains(run.out, "committed batch 1: 20/25 inputs"))
      << run.out;
  EXPECT_TRUE(absl::StrContains(run.out, "run cli: 25 predictions")) << run.out;
}

// Whole batches only: after a SIGKILL every stored batch has all its rows.
void ExpectWholeBatches(registry::Store& store, const std::string& run,
                        const std::string& idx, int64_t batch_size,
                        int64_t total) {
  auto batches = store.ListPredictionBatches(run);
  ASSERT_TRUE(batches.ok()) << batches.status();
  int64_t rows = 0;
  for (const registry::PredictionBatch& b : *batches) {
    EXPECT_EQ(b.rows, std::min(batch_size, total - rows)) << "batch " << b.id;
    auto got = store.GetPredictions(b.id);
    ASSERT_TRUE(got.ok());
    ASSERT_FALSE(got->empty());
    EXPECT_EQ((*got)[0].input, absl::StrCat("idx:", idx, ":", rows))
        << "batches hold consecutive inputs";
    rows += b.rows;
  }
}

class KilledRunTest : public BatchPredictTest {
 protected:
  void SetUp() override {
    BatchPredictTest::SetUp();
    big_ = Blocks(3000, 5);
    idx_ = WriteImagesIdx(big_, base::NewTestDir("big"));
  }
  std::vector<std::string> Args(const std::string& run) const {
    return {base::ProgramUnderTest(),
            "predict",
            "--registry_dir=" + root_,
            "--model=shop/fashion@production",
            "--input=" + idx_,
            "--batch_size=100",
            "--run=" + run};
  }
  data::Dataset big_;
};

TEST_F(KilledRunTest, KilledInsideABatchLeavesTheEarlierBatchesWhole) {
  // 250 rows: batches 1 and 2 committed, batch 3 half written when the
  // process SIGKILLs itself inside its transaction.
  std::vector<std::string> args = Args("crash");
  args.push_back("--crash_after_rows=250");
  absl::StatusOr<base::ProgramRun> run =
      base::RunProgram(args, absl::Seconds(60));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_FALSE(run->exit.exited) << run->output;
  EXPECT_EQ(run->exit.signal, SIGKILL) << run->exit.Describe();
  std::unique_ptr<registry::Store> store = OpenStore(root_);
  auto batches = store->ListPredictionBatches("crash");
  ASSERT_TRUE(batches.ok()) << batches.status();
  ASSERT_EQ(batches->size(), 2u) << run->output;
  ExpectWholeBatches(*store, "crash", idx_, 100, 3000);
  // The registry stays usable: a new run writes after the lost batch.
  absl::StatusOr<BatchPredictResult> again =
      RunBatchPredict(*store, Options(1000));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_GT(again->batch_ids[0], (*batches)[1].id);
}

TEST_F(KilledRunTest, KilledFromOutsideAfterTheFirstCommitLeavesWholeBatches) {
  absl::StatusOr<base::Subprocess> child =
      base::Subprocess::Spawn(Args("outside"), base::OutputPiped());
  ASSERT_TRUE(child.ok()) << child.status();
  // Kill as soon as the first commit is reported: the run is mid-way.
  while (true) {
    absl::StatusOr<std::string> line = child->ReadLine(absl::Seconds(60));
    ASSERT_TRUE(line.ok()) << "no commit reported: " << line.status();
    if (absl::StartsWith(*line, "committed batch")) break;
  }
  base::ExitStatus exit = child->Kill();
  std::unique_ptr<registry::Store> store = OpenStore(root_);
  auto batches = store->ListPredictionBatches("outside");
  ASSERT_TRUE(batches.ok()) << batches.status();
  EXPECT_GE(batches->size(), 1u) << exit.Describe();
  ExpectWholeBatches(*store, "outside", idx_, 100, 3000);
}

}  // namespace
}  // namespace trainbus::serving

int main(int argc, char** argv) {
  return trainbus::base::RunTestsWithProgram(argc, argv);
}
