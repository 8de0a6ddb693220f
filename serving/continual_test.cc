// Champion/challenger driven sample by sample (seeded, no actors, no
// waits): feedback labelled with a permutation makes the challenger
// overtake and be promoted into the registry; agreeing feedback keeps the
// champion; replay is mixed in at its ratio; bad samples are refused.
#include "serving/continual.h"

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "serving/predict_testing.h"

namespace trainbus::serving {
namespace {

constexpr char kProject[] = "shop";
constexpr char kModel[] = "fashion";

int Permuted(int label) { return (label + 3) % 10; }

struct FeedRun {
  std::vector<Decision> decisions;
  std::optional<Decision> promotion;
};

// Feeds `count` samples of a fresh block set, labelled by `relabel`, until
// the first promotion (when `stop_at_promotion`).
FeedRun Feed(ChampionChallenger& cc, size_t count, int (*relabel)(int),
             bool stop_at_promotion = true) {
  FeedRun run;
  const data::Dataset feedback = Blocks(count, 42);
  for (size_t i = 0; i < count; ++i) {
    absl::StatusOr<std::optional<Decision>> d =
        cc.Observe(feedback.image(i), 784, relabel(feedback.labels[i]));
    EXPECT_TRUE(d.ok()) << d.status();
    if (!d.ok() || !d->has_value()) continue;
    run.decisions.push_back(**d);
    if ((*d)->promoted && !run.promotion) {
      run.promotion = **d;
      if (stop_at_promotion) break;
    }
  }
  return run;
}

class ContinualTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::tie(champion_, root_, store_) = ChampionRegistry(kProject, kModel);
    options_.enabled = true;
    options_.promote_window = 50;
    options_.promote_margin = 0.3;
  }

  std::unique_ptr<ChampionChallenger> Start(
      std::shared_ptr<const data::Dataset> replay = nullptr) {
    auto cc = ChampionChallenger::Start(store_.get(), kProject, kModel,
                                        options_, std::move(replay));
    EXPECT_TRUE(cc.ok()) << cc.status();
    return cc.ok() ? *std::move(cc) : nullptr;
  }

  std::unique_ptr<nn::Model> champion_;
  std::string root_;
  std::unique_ptr<registry::Store> store_;
  ContinualOptions options_;
};

TEST_F(ContinualTest, PermutedFeedbackPromotesTheChallenger) {
  std::unique_ptr<ChampionChallenger> cc = Start();
  ASSERT_NE(cc, nullptr);
  EXPECT_EQ(cc->champion_version(), 1);
  FeedRun run = Feed(*cc, 3000, Permuted);
  ASSERT_TRUE(run.promotion.has_value())
      << "no promotion after 3000 permuted samples";
  const Decision& p = *run.promotion;
  EXPECT_EQ(p.champion_version, 1);
  EXPECT_EQ(p.new_version, 2);
  EXPECT_EQ(p.window, 50u);
  EXPECT_GE(p.challenger_accuracy - p.champion_accuracy, 0.3 - 1e-9);
  EXPECT_LT(p.champion_accuracy, 0.1) << "the champion knows the old labels";
  // Before it, one "keep" per full window, each against version 1.
  for (size_t i = 0; i + 1 < run.decisions.size(); ++i) {
    EXPECT_FALSE(run.decisions[i].promoted);
    EXPECT_EQ(run.decisions[i].sample, 50 * (i + 1));
  }
  // The registry: version 2 under the alias, with where it came from.
  absl::StatusOr<int64_t> aliased =
      store_->ResolveAlias(kProject, kModel, "production");
  ASSERT_TRUE(aliased.ok()) << aliased.status();
  EXPECT_EQ(*aliased, 2);
  absl::StatusOr<registry::ModelRecord> v2 =
      store_->GetModel(kProject, kModel, 2);
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->kv["promoted_from"], "1");
  EXPECT_EQ(v2->kv["source"], "continual");
  EXPECT_EQ(v2->kv["feedback_samples"], std::to_string(p.sample));
  // The new champion is exactly the saved version, and it predicts the
  // permuted labels on images it never saw.
  absl::StatusOr<std::string> blob = store_->LoadModelBlob(kProject, kModel, 2);
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(cc->champion_version(), 2);
  EXPECT_EQ(cc->champion().SaveCheckpoint(), *blob);
  const data::Dataset fresh = Blocks(100, 77);
  std::vector<float> x = FloatsOf(fresh, 0, 100), probs(1000);
  ASSERT_TRUE(cc->champion().Predict(x.data(), 100, probs.data()).ok());
  int right = 0;
  for (int i = 0; i < 100; ++i) {
    const float* row = &probs[i * 10];
    right += std::max_element(row, row + 10) - row == Permuted(fresh.labels[i]);
  }
  EXPECT_GE(right, 50);
  // Every decision is in the registry's logs.
  auto logs = store_->QueryLogs({"decision=promote", "", 0});
  ASSERT_TRUE(logs.ok()) << logs.status();
  ASSERT_EQ(logs->size(), 1u);
  EXPECT_EQ((*logs)[0].model_version, 2);
  auto keeps = store_->QueryLogs({"decision=keep", "", 0});
  ASSERT_TRUE(keeps.ok());
  EXPECT_EQ(keeps->size(), run.decisions.size() - 1);
}

TEST_F(ContinualTest, TheSameFeedbackPromotesAtTheSameSample) {
  FeedRun first = Feed(*Start(), 3000, Permuted);
  // A second registry from the same champion: the run is reproducible.
  store_ = OpenStore(RegistryWith(kProject, kModel, *champion_));
  FeedRun second = Feed(*Start(), 3000, Permuted);
  ASSERT_TRUE(first.promotion && second.promotion);
  EXPECT_EQ(first.promotion->sample, second.promotion->sample);
  EXPECT_EQ(first.promotion->challenger_accuracy,
            second.promotion->challenger_accuracy);
}

int Same(int label) { return label; }

TEST_F(ContinualTest, AgreeingFeedbackKeepsTheChampion) {
  std::unique_ptr<ChampionChallenger> cc = Start();
  FeedRun run = Feed(*cc, 300, Same, /*stop_at_promotion=*/false);
  EXPECT_FALSE(run.promotion.has_value());
  ASSERT_EQ(run.decisions.size(), 6u);  // one per window of 50
  for (const Decision& d : run.decisions) {
    EXPECT_FALSE(d.promoted);
    EXPECT_GT(d.champion_accuracy, 0.9);
    EXPECT_TRUE(absl::StrContains(d.ToString(), "keep the champion"));
  }
  auto models = store_->FindModels({"name=fashion", "", 0});
  ASSERT_TRUE(models.ok());
  EXPECT_EQ(models->size(), 1u);
}

TEST_F(ContinualTest, ReplayIsMixedInAtItsRatio) {
  options_.replay_ratio = 0.5;
  auto replay = std::make_shared<const data::Dataset>(Blocks(100, 9));
  std::unique_ptr<ChampionChallenger> cc = Start(replay);
  Feed(*cc, 40, Permuted, /*stop_at_promotion=*/false);
  EXPECT_EQ(cc->samples(), 40u);
  EXPECT_EQ(cc->replayed(), 20u);
  // A replay set of another shape is refused up front.
  data::Dataset small;
  small.rows = small.cols = 10;
  small.count = 1;
  small.pixels.assign(100, 0);
  small.labels.assign(1, 0);
  auto refused =
      ChampionChallenger::Start(store_.get(), kProject, kModel, options_,
                                std::make_shared<const data::Dataset>(small));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ContinualTest, BadSamplesAreRefusedAndNotCounted) {
  std::unique_ptr<ChampionChallenger> cc = Start();
  std::vector<uint8_t> pixels(784, 0);
  EXPECT_EQ(cc->Observe(pixels.data(), 100, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cc->Observe(pixels.data(), 784, 10).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cc->samples(), 0u);
}

TEST_F(ContinualTest, FlagsParseAndRefuseBadValues) {
  ContinualOptions o;
  std::string problem;
  EXPECT_TRUE(ParseContinualFlag("continual", "", o, problem));
  EXPECT_TRUE(o.enabled);
  EXPECT_TRUE(ParseContinualFlag("promote_window", "20", o, problem));
  EXPECT_EQ(o.promote_window, 20u);
  EXPECT_TRUE(problem.empty());
  EXPECT_TRUE(ParseContinualFlag("promote_margin", "2", o, problem));
  EXPECT_TRUE(absl::StrContains(problem, "--promote_margin wants 0..1"));
  EXPECT_FALSE(ParseContinualFlag("port", "1", o, problem));
}

}  // namespace
}  // namespace trainbus::serving
