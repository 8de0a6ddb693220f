// End to end: the parallel_models topology on a slice of Fashion-MNIST. Every
// model must learn (well above the 10% of chance) and report its progress.
#include <filesystem>

#include "actors/topology/parallel_models.h"
#include "gtest/gtest.h"

namespace trainbus {
namespace {

constexpr char kFashionMnist[] = "/usr/share/datasets/fashion-mnist";

TEST(ParallelModelsTest, FourModelsLearnSideBySide) {
  ASSERT_TRUE(std::filesystem::exists(kFashionMnist))
      << "install dataset-fashion-mnist: tools/setup.sh";
  actors::ParallelModelsConfig config;
  config.data_dir = kFashionMnist;
  config.train_limit = 4000;
  config.test_limit = 500;
  config.eval_every = 50;
  config.eval_subset = 200;
  config.print = false;
  auto report = actors::RunParallelModels(config);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->models.size(), 4u);
  for (const actors::ModelSummary& m : report->models) {
    SCOPED_TRACE(m.name + " " + m.spec);
    EXPECT_TRUE(m.error.empty()) << m.error;
    EXPECT_EQ(m.samples, 4000u);
    EXPECT_GT(m.test_accuracy, 0.55);
    EXPECT_GT(m.prequential_accuracy, 0.4);
    EXPECT_FALSE(m.curve.empty());
  }
  // One stream fanned out to four bound resources: the generator's 4000
  // samples (plus the end marker) were published once, delivered four times.
  bool found = false;
  for (const bus::ResourceMetrics& r : report->bus) {
    if (r.name != "mnist") continue;
    found = true;
    EXPECT_EQ(r.published, 4001u);
    ASSERT_EQ(r.subscriptions.size(), 4u);
    for (const auto& s : r.subscriptions) EXPECT_EQ(s.delivered, 4001u);
  }
  EXPECT_TRUE(found);
  const std::string json = actors::ReportToJson(*report);
  EXPECT_NE(json.find("\"test_accuracy\""), std::string::npos);
  EXPECT_NE(actors::CurvesToSvg(*report).find("<polyline"), std::string::npos);
  EXPECT_NE(report->topology.ToDot().find("\"mnist\" -> \"model4\""),
            std::string::npos);
}

TEST(ParallelModelsTest, EveryMetricReachesTheSink) {
  actors::ParallelModelsConfig config;
  config.data_dir = kFashionMnist;
  config.models = {{"solo", "softmax:lr=0.01"}};
  config.train_limit = 1000;
  config.test_limit = 100;
  config.eval_every = 100;
  config.print = false;
  std::vector<bus::Metric> seen;  // only the sink's thread appends
  config.on_metric = [&seen](const bus::Metric& m) { seen.push_back(m); };
  auto report = actors::RunParallelModels(config);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->models.size(), 1u);
  EXPECT_TRUE(report->models[0].error.empty()) << report->models[0].error;
  // 10 periodic reports, all delivered before RunParallelModels returned.
  ASSERT_EQ(seen.size(), 10u);
  EXPECT_EQ(seen.back().model, "solo");
  EXPECT_EQ(seen.back().step, 1000u);
}

TEST(ParallelModelsTest, AMissingDatasetSaysWhatToDo) {
  actors::ParallelModelsConfig config;
  config.data_dir = "/nonexistent/mnist";
  config.print = false;
  auto report = actors::RunParallelModels(config);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("/nonexistent/mnist"),
            std::string::npos)
      << report.status();
}

TEST(ParallelModelsTest, BadModelSpecsAreRejectedUpFront) {
  EXPECT_FALSE(actors::ParseModelList("transformer:layers=96").ok());
  EXPECT_FALSE(actors::ParseModelList("").ok());
  auto models = actors::ParseModelList("fast=softmax:lr=0.1;mlp:hidden=32");
  ASSERT_TRUE(models.ok()) << models.status();
  EXPECT_EQ((*models)[0].name, "fast");
  EXPECT_EQ((*models)[1].name, "model2");
}

}  // namespace
}  // namespace trainbus
