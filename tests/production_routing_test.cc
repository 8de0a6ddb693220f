// experiments/production_routing.yaml end to end through the generic runner,
// on real threads and a small synthetic dataset: it finishes by itself, every
// consumer receives every prediction, and the dead letters carry their
// reasons. Counts are exact whatever the scheduling; nothing here depends on
// timing.

#include <filesystem>
#include <fstream>
#include <string>

#include "base/program_testing.h"
#include "base/test_dir.h"
#include "data/idx.h"
#include "gtest/gtest.h"
#include "report/json_text.h"
#include "tests/test_topology.h"
#include "topology/run_report.h"
#include "topology/runner.h"
#include "topology/spec.h"

namespace trainbus {
namespace {

// The experiment's spec with `flags`, and its image source exporting into
// `images` instead of /tmp.
absl::StatusOr<topology::TopologySpec> Spec(const topology::RunOverrides& flags,
                                            const std::string& images) {
  absl::StatusOr<topology::TopologySpec> spec =
      topology::LoadSpecFile("experiments/production_routing.yaml");
  if (!spec.ok()) return spec.status();
  for (topology::SourceSpec& s : spec->sources) {
    if (s.kind == topology::SourceKind::kImageDir) s.dir = images;
  }
  if (absl::Status s = topology::ApplyOverrides(flags, &*spec); !s.ok()) {
    return s;
  }
  return spec;
}

// `root`/data: `train` and `test` learnable 28x28 images.
void WriteData(const std::string& root, size_t train, size_t test) {
  std::filesystem::create_directories(root + "/data");
  ASSERT_TRUE(data::WriteMnistDir(root + "/data",
                                  testing::BandsDataset(train, 1),
                                  testing::BandsDataset(test, 2))
                  .ok());
}

TEST(ProductionRoutingTest, EveryConsumerGetsEveryPredictionAndItEnds) {
  const std::string root = base::NewTestDir("production_routing");
  WriteData(root, 400, 200);
  topology::RunOverrides flags;
  flags.data_dir = root + "/data";
  flags.models =
      "soft=softmax:lr=0.01,batch=1;mlp=mlp:hidden=16,opt=momentum,lr=0.02,"
      "batch=8";
  flags.train_limit = 400;
  flags.eval_every = 20;
  flags.eval_subset = 0;
  flags.test_limit = 50;  // the replay follows: test samples [50, 150)
  flags.replay_limit = 100;
  flags.replay_rate = 0;
  flags.image_rate = 0;
  const std::string jsonl_path = root + "/out/predictions.jsonl";
  flags.jsonl = jsonl_path;
  absl::StatusOr<topology::TopologySpec> spec = Spec(flags, root + "/images");
  ASSERT_TRUE(spec.ok()) << spec.status();
  for (topology::SourceSpec& s : spec->sources) {
    if (s.kind != topology::SourceKind::kImageDir) continue;
    s.export_images = 7;
    s.export_broken = 2;
  }
  topology::RunOptions options;
  options.print = false;
  // Well inside the test's own limit (medium: 300 s), drain included, so
  // that this message, not bazel's timeout, says what hung.
  options.timeout_s = 40;

  auto report = topology::RunSpec(*spec, options);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->sources.size(), 3u);
  EXPECT_EQ(report->sources[1].published, 100u);  // the replay
  EXPECT_EQ(report->sources[2].published, 7u);    // the images
  EXPECT_EQ(report->sources[2].dead_lettered, 2u);
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
  ASSERT_TRUE(report->aggregate.has_value());
  EXPECT_EQ(report->aggregate->predictions, 2 * live);
  EXPECT_EQ(report->aggregate->per_source.at("images"), 2 * 7u);
  ASSERT_EQ(report->aggregate->models.size(), 2u);
  EXPECT_EQ(report->aggregate->compared[1], live);  // every sample, both models
  EXPECT_EQ(report->aggregate->models[0].with_truth, live);
  ASSERT_EQ(report->dead_letters.size(), 2u);
  for (const topology::DeadLetter& d : report->dead_letters) {
    EXPECT_NE(d.path.find("zz_broken_"), std::string::npos) << d.path;
    EXPECT_FALSE(d.error.empty());
  }
  // The JSON-lines file holds every prediction and metric, one per line.
  std::ifstream in(jsonl_path);
  size_t lines = 0, predictions = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    const report::Json doc =
        report::Json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(doc.is_discarded()) << "line " << lines << ": " << line;
    predictions += doc.value("type", "") == "prediction";
  }
  EXPECT_EQ(predictions, 2 * live);
  EXPECT_GT(lines, predictions);  // and the metrics
  const report::Json json = report::Json::parse(
      topology::ReportToJson(*report), nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(json.is_discarded());
  EXPECT_EQ(json["name"], "production_routing");
  ASSERT_EQ(json["sources"].size(), 3u);
  EXPECT_EQ(json["sources"][2]["dead_lettered"], 2);
  ASSERT_EQ(json["consumers"].size(), 4u);
  EXPECT_EQ(json["consumers"][2]["predictions"], 2 * live);
  EXPECT_EQ(json["dead_letters"].size(), 2u);
  const std::string text = topology::FormatRunReport(*report);
  EXPECT_NE(text.find("agreement"), std::string::npos);
  EXPECT_NE(text.find("zz_broken_000.png"), std::string::npos);
}

TEST(ProductionRoutingTest, AnUnwritableJsonlPathIsRefusedBeforeTheRun) {
  topology::RunOverrides flags;
  // No data there either: the output check has to come first.
  flags.data_dir = "/nonexistent/trainbus-data";
  flags.jsonl = "/proc/x/predictions.jsonl";
  auto spec = Spec(flags, base::NewTestDir("images"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto report = topology::RunSpec(*spec, {});
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("/proc/x"), std::string::npos)
      << report.status();
  EXPECT_NE(report.status().message().find("consumer 'jsonl'"),
            std::string::npos)
      << report.status();
}

TEST(ProductionRoutingTest, ABadDataDirIsAClearError) {
  topology::RunOverrides flags;
  flags.data_dir = "/nonexistent/trainbus-data";
  flags.jsonl = "";  // nothing written outside the test's directory
  auto spec = Spec(flags, base::NewTestDir("images"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto report = topology::RunSpec(*spec, {});
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("/nonexistent/trainbus-data"),
            std::string::npos)
      << report.status();
}

TEST(ProductionRoutingTest, TheBazelRunTargetTakesTodaysFlags) {
  const std::string root = base::NewTestDir("production_routing_binary");
  WriteData(root, 300, 100);
  base::ProgramExit r = base::RunProgramUnderTest(
      {"--data_dir=" + root + "/data", "--models=softmax:lr=0.01",
       "--train_limit=300", "--eval_limit=40", "--replay_limit=50",
       "--replay_rate=0", "--image_rate=0", "--export_dir=" + root + "/images",
       "--export_images=5", "--export_broken=1", "--print_every=0",
       "--jsonl=" + root + "/p.jsonl", "--out_dir=" + root + "/out",
       "--timeout=60", "--quiet"},
      absl::Seconds(120));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("live: 50 replayed test samples, 5 images from " +
                          root + "/images, 1 dead letters"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("== aggregator (live predictions)"),
            std::string::npos)
      << r.output;
  EXPECT_TRUE(std::filesystem::exists(root + "/p.jsonl"));
  EXPECT_TRUE(std::filesystem::exists(root + "/out/report.json"));
}

}  // namespace
}  // namespace trainbus

int main(int argc, char** argv) {
  return trainbus::base::RunTestsWithProgram(argc, argv);
}
