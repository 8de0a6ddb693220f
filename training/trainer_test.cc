#include "training/trainer.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "data/idx.h"
#include "gtest/gtest.h"
#include "kernels/nn/model.h"

namespace trainbus::training {
namespace {

// 4x4 images whose class is the brightest quadrant: learnable in an epoch.
data::Dataset Quadrants(size_t count) {
  data::Dataset d;
  d.rows = d.cols = 4;
  d.count = count;
  d.pixels.assign(count * 16, 10);
  d.labels.resize(count);
  for (size_t i = 0; i < count; ++i) {
    const int q = static_cast<int>(i % 4);
    d.labels[i] = static_cast<uint8_t>(q);
    for (int y = 0; y < 2; ++y) {
      for (int x = 0; x < 2; ++x) {
        d.pixels[i * 16 + (y + 2 * (q / 2)) * 4 + x + 2 * (q % 2)] =
            static_cast<uint8_t>(200 + (i * 7) % 50);
      }
    }
  }
  return d;
}

std::unique_ptr<nn::Model> Softmax(const std::string& extra = "") {
  auto spec = nn::ParseModelSpec("softmax:input=1x4x4,classes=4,lr=0.1" + extra);
  EXPECT_TRUE(spec.ok()) << spec.status();
  auto model = nn::MakeModel(*spec);
  EXPECT_TRUE(model.ok()) << model.status();
  return std::move(*model);
}

TEST(TrainerTest, ToFloatSplitDividesBy255AndHonoursTheLimit) {
  data::Dataset d = Quadrants(10);
  d.pixels[0] = 255;
  d.pixels[1] = 77;
  const FloatSplit all = ToFloatSplit(d, 0);
  EXPECT_EQ(all.count, 10u);
  EXPECT_EQ(all.size, 16u);
  EXPECT_EQ(all.x[0], 1.0f);
  EXPECT_EQ(all.x[1], 77 / 255.0f);  // bit-exact: the recorded runs use it
  EXPECT_EQ(all.labels[3], 3);
  const FloatSplit some = ToFloatSplit(d, 4);
  EXPECT_EQ(some.count, 4u);
  EXPECT_EQ(some.x.size(), 4u * 16);
  EXPECT_EQ(ToFloatSplit(d, 1000).count, 10u);
}

TEST(TrainerTest, CheckFitsNamesTheKeyToChange) {
  const FloatSplit train = ToFloatSplit(Quadrants(8), 0);
  auto wrong_input = nn::ParseModelSpec("softmax");
  absl::Status s = CheckFits(*wrong_input, train);
  EXPECT_NE(std::string(s.message()).find("expects 784 inputs"),
            std::string::npos) << s;
  EXPECT_NE(std::string(s.message()).find("set input="), std::string::npos);
  auto big_batch = nn::ParseModelSpec("softmax:input=1x4x4,batch=9");
  s = CheckFits(*big_batch, train);
  EXPECT_NE(std::string(s.message()).find("lower batch="), std::string::npos)
      << s;
  EXPECT_TRUE(
      CheckFits(*nn::ParseModelSpec("softmax:input=1x4x4,batch=8"), train).ok());
}

TEST(TrainerTest, TrainsEvaluatesEachEpochAndReplaysExactly) {
  const FloatSplit train = ToFloatSplit(Quadrants(400), 0);
  const FloatSplit test = ToFloatSplit(Quadrants(100), 0);
  TrainOptions options;
  options.epochs = 3;
  options.shuffle_seed = 5;
  int progress_calls = 0, epoch_calls = 0;
  options.on_progress = [&](const Progress& p) {
    ++progress_calls;
    EXPECT_LE(p.steps, p.steps_per_epoch);
  };
  options.on_epoch = [&](const EpochResult& e) {
    EXPECT_EQ(e.epoch, static_cast<uint64_t>(++epoch_calls));
  };
  auto model = Softmax();
  std::vector<EpochResult> history;
  ASSERT_TRUE(TrainAndEvaluate(*model, train, test, options, &history).ok());
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(epoch_calls, 3);
  EXPECT_EQ(progress_calls, 3 * 20);  // 400 steps of 1: every 20th
  EXPECT_EQ(model->steps(), 1200u);
  EXPECT_EQ(history[0].samples, 400u);
  EXPECT_GT(history.back().accuracy, 0.9);
  EXPECT_LT(history.back().loss, history.front().loss);
  // The same seeds give the same numbers.
  auto again = Softmax();
  std::vector<EpochResult> replay;
  options.on_progress = nullptr;
  options.on_epoch = nullptr;
  ASSERT_TRUE(TrainAndEvaluate(*again, train, test, options, &replay).ok());
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(replay[i].loss, history[i].loss) << i;
    EXPECT_EQ(replay[i].accuracy, history[i].accuracy) << i;
  }
  EXPECT_EQ(again->SaveCheckpoint(), model->SaveCheckpoint());
}

TEST(TrainerTest, EvaluatesEveryNthEpochAndAlwaysTheLast) {
  const FloatSplit train = ToFloatSplit(Quadrants(40), 0);
  const FloatSplit test = ToFloatSplit(Quadrants(20), 0);
  TrainOptions every;
  every.epochs = 5;
  std::vector<EpochResult> all;
  auto a = Softmax();
  ASSERT_TRUE(TrainAndEvaluate(*a, train, test, every, &all).ok());
  for (uint64_t n : {0, 2}) {
    TrainOptions sparse = every;
    sparse.evaluate_every = n;
    std::vector<EpochResult> some;
    auto b = Softmax();
    ASSERT_TRUE(TrainAndEvaluate(*b, train, test, sparse, &some).ok());
    ASSERT_EQ(some.size(), 5u);
    for (size_t i = 0; i < 5; ++i) {
      const bool expected = i == 4 || (n != 0 && (i + 1) % n == 0);
      EXPECT_EQ(some[i].evaluated, expected) << "n=" << n << " epoch " << i + 1;
      EXPECT_EQ(some[i].loss, all[i].loss);  // evaluation does not train
      if (expected) {
        EXPECT_EQ(some[i].accuracy, all[i].accuracy);
      }
    }
  }
}

TEST(TrainerTest, ARemainderSmallerThanABatchIsSkippedEachEpoch) {
  const FloatSplit train = ToFloatSplit(Quadrants(10), 0);
  auto model = Softmax(",batch=4");
  TrainOptions options;
  options.epochs = 2;
  std::vector<EpochResult> history;
  ASSERT_TRUE(TrainAndEvaluate(*model, train, train, options, &history).ok());
  EXPECT_EQ(model->steps(), 4u);  // 2 batches of 4 per epoch; 2 left over
  EXPECT_EQ(history[1].samples, 8u);
}

TEST(TrainerTest, AFailedStepIsTheErrorAndKeepsTheFinishedEpochs) {
  FloatSplit train = ToFloatSplit(Quadrants(8), 0);
  train.x[5] = std::nanf("");
  auto model = Softmax();
  std::vector<EpochResult> history;
  const absl::Status s =
      TrainAndEvaluate(*model, train, train, TrainOptions{}, &history);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(std::string(s.message()).find("non-finite loss"),
            std::string::npos) << s;
  EXPECT_TRUE(history.empty());
  EXPECT_FALSE(Accuracy(*model, FloatSplit{}, nullptr).ok());
}

}  // namespace
}  // namespace trainbus::training
