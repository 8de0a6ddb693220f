// The production-routing topology end to end, on real threads and a small
// synthetic dataset: it finishes by itself, every consumer receives every
// prediction, and the dead letters carry their reasons. Counts are exact
// whatever the scheduling; nothing here depends on timing.
#include "actors/topology/production_routing.h"

#include <fstream>
#include <string>

#include "base/test_dir.h"
#include "data/idx.h"
#include "gtest/gtest.h"
#include "report/json_text.h"
#include "tests/test_topology.h"

namespace trainbus {
namespace {

TEST(ProductionRoutingTest, EveryConsumerGetsEveryPredictionAndItEnds) {
  const std::string root = base::NewTestDir("production_routing");
  std::filesystem::create_directories(root + "/data");
  ASSERT_TRUE(
      data::WriteMnistDir(root + "/data", testing::BandsDataset(400, 1),
                          testing::BandsDataset(200, 2))
          .ok());
  actors::ProductionRoutingConfig config;
  config.data_dir = root + "/data";
  config.models = {{"soft", "softmax:lr=0.01,batch=1"},
                   {"mlp", "mlp:hidden=16,opt=momentum,lr=0.02,batch=8"}};
  config.train_limit = 400;
  config.eval_every = 20;
  config.eval_subset = 0;
  config.eval_limit = 50;
  config.replay_limit = 100;
  config.replay_rate = 0;
  config.export_dir = root + "/images";
  config.export_images = 7;
  config.export_broken = 2;
  config.image_rate = 0;
  config.print = false;
  config.jsonl_path = root + "/out/predictions.jsonl";
  // Well inside the test's own limit (medium: 300 s), drain included, so
  // that this message, not bazel's timeout, says what hung.
  config.timeout_seconds = 40;

  auto report = actors::RunProductionRouting(config);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->replayed, 100u);
  EXPECT_EQ(report->images, 7u);
  const uint64_t live = 100 + 7;
  ASSERT_EQ(report->models.size(), 2u);
  for (const actors::ModelSummary& m : report->models) {
    EXPECT_EQ(m.samples, 400u) << m.name;
    EXPECT_EQ(m.predictions, live) << m.name;
  }
  ASSERT_EQ(report->consumers.size(), 4u);
  for (const actors::ConsumerStats& s : report->consumers) {
    EXPECT_EQ(s.errors, 0u) << s.name;
    if (s.name == "dead_letters") {
      EXPECT_EQ(s.samples, 2u);
    } else {
      EXPECT_EQ(s.predictions, 2 * live) << s.name;
    }
  }
  EXPECT_EQ(report->aggregate.predictions, 2 * live);
  EXPECT_EQ(report->aggregate.per_source.at("images"), 2 * 7u);
  ASSERT_EQ(report->aggregate.models.size(), 2u);
  EXPECT_EQ(report->aggregate.compared[1], live);  // every sample, both models
  EXPECT_EQ(report->aggregate.models[0].with_truth, live);
  ASSERT_EQ(report->dead_letters.size(), 2u);
  for (const actors::DeadLetter& d : report->dead_letters) {
    EXPECT_NE(d.path.find("zz_broken_"), std::string::npos) << d.path;
    EXPECT_FALSE(d.error.empty());
  }
  // The JSON-lines file holds every prediction and metric, one per line.
  std::ifstream in(config.jsonl_path);
  size_t lines = 0, predictions = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    const report::Json doc =
        report::Json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(doc.is_discarded()) << "line " << lines << ": " << line;
    predictions += doc.value("type", "") == "prediction";
  }
  EXPECT_EQ(predictions, 2 * live);
  EXPECT_GT(lines, predictions);  // and the metrics
  const std::string text = actors::FormatProductionReport(*report);
  EXPECT_NE(text.find("agreement"), std::string::npos);
  EXPECT_NE(text.find("zz_broken_000.png"), std::string::npos);
}

TEST(ProductionRoutingTest, AnUnwritableJsonlPathIsRefusedBeforeTheRun) {
  actors::ProductionRoutingConfig config;
  // No data there either: the output check has to come first.
  config.data_dir = "/nonexistent/trainbus-data";
  config.jsonl_path = "/proc/x/predictions.jsonl";
  auto report = actors::RunProductionRouting(config);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("/proc/x"), std::string::npos)
      << report.status();
}

TEST(ProductionRoutingTest, ABadDataDirIsAClearError) {
  actors::ProductionRoutingConfig config;
  config.data_dir = "/nonexistent/trainbus-data";
  config.jsonl_path = "";  // nothing written outside the test's directory
  auto report = actors::RunProductionRouting(config);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("/nonexistent/trainbus-data"),
            std::string::npos)
      << report.status();
}

}  // namespace
}  // namespace trainbus
