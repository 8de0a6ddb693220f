#include "actors/topology/components.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace trainbus::actors {
namespace {

TEST(ComponentsTest, ModelListsNameTheirModels) {
  EXPECT_FALSE(ParseModelList("transformer:layers=96").ok());
  EXPECT_FALSE(ParseModelList("").ok());
  auto models = ParseModelList("fast=softmax:lr=0.1; mlp:hidden=32");
  ASSERT_TRUE(models.ok()) << models.status();
  ASSERT_EQ(models->size(), 2u);
  EXPECT_EQ((*models)[0].name, "fast");
  EXPECT_EQ((*models)[0].spec, "softmax:lr=0.1");
  EXPECT_EQ((*models)[1].name, "model2");
}

TEST(ComponentsTest, TheSeedShiftsEveryModelsInitialisation) {
  const std::vector<NamedModel> models = {{"a", "softmax:seed=5"},
                                          {"b", "mlp:hidden=8"}};
  auto same = ParseModelSpecs(models, 1);
  auto shifted = ParseModelSpecs(models, 3);
  ASSERT_TRUE(same.ok() && shifted.ok());
  EXPECT_EQ((*same)[0].seed, 5u);
  EXPECT_EQ((*shifted)[0].seed, 7u);
  EXPECT_EQ((*shifted)[1].seed, (*same)[1].seed + 2);
  auto bad = ParseModelSpecs({{"broken", "mlp:hidden=x"}}, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("model 'broken'"), std::string::npos)
      << bad.status();
}

TEST(ComponentsTest, ZeroEpochsIsRefusedAndForeverIsSaidOutLoud) {
  absl::Status zero = CheckEpochs(0, false);
  EXPECT_EQ(zero.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(zero.message().find("--forever"), std::string::npos) << zero;
  EXPECT_TRUE(CheckEpochs(1, false).ok());
  EXPECT_TRUE(CheckEpochs(3, false).ok());
  EXPECT_TRUE(CheckEpochs(0, true).ok());
  EXPECT_TRUE(CheckEpochs(1, true).ok());  // the flag's default
  EXPECT_FALSE(CheckEpochs(2, true).ok());
  EXPECT_EQ(GeneratorEpochs(3, false), 3u);
  EXPECT_EQ(GeneratorEpochs(1, true), 0u);  // the generator's "forever"
  EXPECT_EQ(EpochsText(2, false), "x 2 epoch(s)");
  EXPECT_EQ(EpochsText(1, true), "forever (until stopped)");
}

TEST(ComponentsTest, EveryModelsCostIsOneLine) {
  std::vector<NamedModel> models = {{"a", "softmax"},
                                    {"b", "mlp:hidden=65536x65536"}};
  absl::StatusOr<std::vector<nn::ModelSpec>> specs =
      ParseModelSpecs(models, 1);
  ASSERT_TRUE(specs.ok()) << specs.status();
  const std::string text = ModelCostLines(models, *specs, "w/");
  // softmax on 28x28: 784 * 10 weights + 10 biases = 7850.
  EXPECT_EQ(text.rfind("w/a (softmax): 7.8 k parameters", 0), 0u) << text;
  EXPECT_NE(text.find("\nw/b (mlp): "), std::string::npos) << text;
  EXPECT_NE(text.find("G parameters"), std::string::npos) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
}

TEST(ComponentsTest, SummaryNotesOnlyWhenThereIsSomethingToSay) {
  EXPECT_EQ(SummaryNotes("m", 0, 0, {}), "");
  EXPECT_EQ(SummaryNotes("m", 3, 0, {}),
            "  m: refused 3 sample(s) whose shape did not fit its input and 0 "
            "with a label >= its classes (not trained on)\n");
  EXPECT_EQ(SummaryNotes("m", 0, 0, {"stuck", "still"}),
            "  m warning: stuck\n  m warning: still\n");
}

TEST(ComponentsTest, PrefixStatusKeepsTheCode) {
  absl::Status s = PrefixStatus("--out_dir", absl::PermissionDeniedError("no"));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "--out_dir: no");
  EXPECT_TRUE(PrefixStatus("x", absl::OkStatus()).ok());
}

data::Dataset Tiny(size_t n) {
  data::Dataset d;
  d.rows = 2;
  d.cols = 2;
  d.count = n;
  for (size_t i = 0; i < n; ++i) {
    for (int p = 0; p < 4; ++p) d.pixels.push_back(static_cast<uint8_t>(i));
    d.labels.push_back(static_cast<uint8_t>(i % 3));
  }
  return d;
}

TEST(ComponentsTest, StreamDataKeepsTheFirstSamplesOfEachSplit) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  ASSERT_NE(tmp, nullptr) << "run under bazel test";
  const std::string dir = std::string(tmp) + "/stream_data";
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(data::WriteMnistDir(dir, Tiny(10), Tiny(6)).ok());
  auto all = LoadStreamData(dir, 0, 0);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->train->count, 10u);
  EXPECT_EQ(all->test.count, 6u);
  auto some = LoadStreamData(dir, 4, 2);
  ASSERT_TRUE(some.ok()) << some.status();
  EXPECT_EQ(some->train->count, 4u);
  EXPECT_EQ(some->test.count, 2u);
  EXPECT_EQ(some->train->pixels.back(), 3);
  std::shared_ptr<const EvalSet> eval = MakeEvalSet(some->test);
  EXPECT_EQ(eval->count, 2u);
  EXPECT_EQ(eval->input_size, 4u);
  auto missing = LoadStreamData(dir + "/nope", 0, 0);
  EXPECT_FALSE(missing.ok());
}

}  // namespace
}  // namespace trainbus::actors
