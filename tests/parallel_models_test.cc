// End to end: experiments/parallel_models.yaml run by the generic runner
// (topology/runner.h) on a slice of Fashion-MNIST, in process and as the
// `bazel run` binary. Every model must learn (well above the 10% of chance)
// and report its progress.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/subprocess.h"
#include "base/test_dir.h"
#include "gtest/gtest.h"
#include "report/json_text.h"
#include "tests/test_topology.h"
#include "topology/describe.h"
#include "topology/run_report.h"
#include "topology/runner.h"
#include "topology/spec.h"

namespace trainbus {
namespace {

constexpr char kFashionMnist[] = "/usr/share/datasets/fashion-mnist";

class ParallelModelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kFashionMnist))
        << kFashionMnist << " is missing: run tools/setup.sh";
  }
};

report::Json ParseJson(const std::string& text) {
  report::Json doc =
      report::Json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(doc.is_discarded()) << "not JSON: " << text;
  return doc;
}

std::string ReadFile(const std::string& path) {
  absl::StatusOr<std::string> text = base::ReadFile(path);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.value_or("");
}

// A run of experiments/parallel_models.yaml: the flags, the options and
// what they gave.
struct SpecRun {
  topology::RunOverrides flags;
  topology::RunOptions options;
};

// The example spec with the run's flags applied.
absl::StatusOr<topology::TopologySpec> SpecOf(const SpecRun& run) {
  absl::StatusOr<topology::TopologySpec> spec =
      topology::LoadSpecFile("experiments/parallel_models.yaml");
  if (!spec.ok()) return spec.status();
  if (absl::Status s = topology::ApplyOverrides(run.flags, &*spec); !s.ok()) {
    return s;
  }
  return spec;
}

absl::StatusOr<topology::RunReport> RunSpec(const SpecRun& run) {
  absl::StatusOr<topology::TopologySpec> spec = SpecOf(run);
  if (!spec.ok()) return spec.status();
  return topology::RunSpec(*spec, run.options);
}

SpecRun Quiet() {
  SpecRun run;
  run.options.print = false;
  return run;
}

// A run small enough for the tests that check behaviour, not learning.
SpecRun Small() {
  SpecRun run = Quiet();
  run.flags.data_dir = kFashionMnist;
  run.flags.models = "solo=softmax:lr=0.01";
  run.flags.train_limit = 300;
  run.flags.test_limit = 100;
  run.flags.eval_every = 100;
  return run;
}

TEST_F(ParallelModelsTest, FourModelsLearnSideBySide) {
  SpecRun config = Quiet();
  config.flags.train_limit = 4000;
  config.flags.test_limit = 500;
  config.flags.eval_every = 50;
  config.flags.eval_subset = 200;
  auto report = RunSpec(config);
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
  // samples (63 SampleBatches of up to 64, plus the end marker) were
  // published once, delivered four times.
  constexpr uint64_t kMessages = (4000 + 63) / 64 + 1;
  bool found = false;
  for (const bus::ResourceMetrics& r : report->bus) {
    if (r.name != "mnist") continue;
    found = true;
    EXPECT_EQ(r.published, kMessages);
    ASSERT_EQ(r.subscriptions.size(), 4u);
    for (const auto& s : r.subscriptions) EXPECT_EQ(s.delivered, kMessages);
  }
  EXPECT_TRUE(found);
  report::Json doc = ParseJson(topology::ReportToJson(*report));
  EXPECT_EQ(doc["train_samples"], 4000);
  EXPECT_EQ(doc["test_samples"], 500);
  EXPECT_EQ(doc["epochs"], 1);
  ASSERT_EQ(doc["models"].size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    report::Json& m = doc["models"][i];
    const actors::ModelSummary& s = report->models[i];
    EXPECT_EQ(m["name"], s.name);
    EXPECT_EQ(m["kind"], s.arch);
    EXPECT_EQ(m["spec"], s.spec);
    EXPECT_EQ(m["steps"], s.steps);
    EXPECT_EQ(m["samples"], 4000);
    EXPECT_DOUBLE_EQ(m["test_accuracy"].get<double>(), s.test_accuracy);
    ASSERT_TRUE(m["hyperparameters"].contains("learning_rate")) << m.dump();
    EXPECT_EQ(m["curve"].size(), s.curve.size());
    EXPECT_FALSE(m.contains("error"));
  }
  EXPECT_EQ(doc["models"][2]["hyperparameters"]["hidden"],
            report::Json({256}));
  EXPECT_EQ(doc["models"][2]["hyperparameters"]["learning_rate"], 0.001);
  bool mnist_in_json = false;
  for (report::Json& r : doc["bus"]) {
    if (r.value("resource", "") != "mnist") continue;
    mnist_in_json = true;
    EXPECT_EQ(r["published"], kMessages);
    ASSERT_EQ(r["subscriptions"].size(), 4u);
    EXPECT_EQ(r["subscriptions"][0]["delivered"], kMessages);
    EXPECT_EQ(r["subscriptions"][0].size(), 5u);
  }
  EXPECT_TRUE(mnist_in_json) << doc.dump();
  EXPECT_NE(topology::CurvesToSvg(*report).find("<polyline"), std::string::npos);
  EXPECT_NE(report->topology.ToDot().find("\"mnist\" -> \"model4\""),
            std::string::npos);
}

TEST_F(ParallelModelsTest, RefusedSamplesAndWarningsAreInTheTableAndJson) {
  // A real run: the new fields are there (and zero), after the old ones.
  auto run = RunSpec(Small());
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->models.size(), 1u);
  report::Json doc = ParseJson(topology::ReportToJson(*run));
  std::vector<std::string> keys;
  for (const auto& [key, value] : doc["models"][0].items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "name", "kind", "spec", "hyperparameters", "parameters",
                      "steps", "samples", "test_accuracy",
                      "prequential_accuracy", "train_samples_per_second",
                      "train_seconds", "curve", "rejected_shape",
                      "rejected_label", "warnings"}));
  EXPECT_EQ(doc["models"][0]["rejected_shape"], 0);
  EXPECT_EQ(doc["models"][0]["rejected_label"], 0);
  EXPECT_EQ(doc["models"][0]["warnings"], report::Json::array());
  const std::string quiet = topology::FormatSummaryTable(*run);
  EXPECT_EQ(quiet.find("refused"), std::string::npos) << quiet;
  EXPECT_EQ(quiet.find("warning"), std::string::npos) << quiet;

  // What a model that refused samples and trained at chance reports.
  topology::RunReport report = *run;
  actors::ModelSummary& m = report.models[0];
  m.rejected_shape = 12;
  m.rejected_label = 3;
  m.warnings = {"training accuracy 0.0950 after 2000 samples is no better "
                "than chance"};
  doc = ParseJson(topology::ReportToJson(report));
  EXPECT_EQ(doc["models"][0]["rejected_shape"], 12);
  EXPECT_EQ(doc["models"][0]["rejected_label"], 3);
  EXPECT_EQ(doc["models"][0]["warnings"], report::Json(m.warnings));
  const std::string table = topology::FormatSummaryTable(report);
  EXPECT_NE(table.find("solo: refused 12 sample(s) whose shape did not fit "
                       "its input and 3 with a label >= its classes"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("solo warning: training accuracy 0.0950"),
            std::string::npos)
      << table;
}

TEST_F(ParallelModelsTest, AModelTrainingAtChanceWarnsInTheReport) {
  SpecRun config = Small();
  // lr=100 wrecks an MLP without a NaN: it ends at about 0.1.
  config.flags.models = "wrecked=mlp:lr=100;fine=softmax:lr=0.01";
  config.flags.train_limit = 3000;
  auto report = RunSpec(config);
  ASSERT_TRUE(report.ok()) << report.status();
  report::Json doc = ParseJson(topology::ReportToJson(*report));
  ASSERT_EQ(doc["models"].size(), 2u);
  ASSERT_EQ(doc["models"][0]["warnings"].size(), 1u) << doc.dump();
  EXPECT_NE(doc["models"][0]["warnings"][0].get<std::string>().find(
                "no better than chance"),
            std::string::npos)
      << doc.dump();
  EXPECT_EQ(doc["models"][1]["warnings"], report::Json::array());
  const std::string table = topology::FormatSummaryTable(*report);
  EXPECT_NE(table.find("wrecked warning: "), std::string::npos) << table;
  EXPECT_EQ(table.find("fine warning"), std::string::npos) << table;
}

TEST_F(ParallelModelsTest, ARunPastItsDeadlineFailsAndSaysWhatToDo) {
  SpecRun config = Small();
  config.flags.train_limit = 20000;  // far more than a millisecond's training
  config.options.timeout_s = 0.001;
  const auto start = std::chrono::steady_clock::now();
  auto report = RunSpec(config);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(report.status().message().find("--timeout_s"), std::string::npos)
      << report.status();
  // It gave up and stopped its actors instead of training to the end.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                          start)
                .count(),
            30.0);
}

TEST_F(ParallelModelsTest, EveryMetricReachesTheSink) {
  SpecRun config = Small();
  config.flags.train_limit = 1000;
  std::vector<bus::Metric> seen;  // only the sink's thread appends
  config.options.hooks.on_metric = [&seen](const bus::Metric& m) {
    seen.push_back(m);
  };
  auto report = RunSpec(config);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->models.size(), 1u);
  EXPECT_TRUE(report->models[0].error.empty()) << report->models[0].error;
  // 10 periodic reports, all delivered before RunSpec returned.
  ASSERT_EQ(seen.size(), 10u);
  EXPECT_EQ(seen.back().model, "solo");
  EXPECT_EQ(seen.back().step, 1000u);
}

TEST_F(ParallelModelsTest, AMissingDatasetSaysWhatToDo) {
  SpecRun config = Quiet();
  config.flags.data_dir = "/nonexistent/mnist";
  auto report = RunSpec(config);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("/nonexistent/mnist"),
            std::string::npos)
      << report.status();
}

TEST_F(ParallelModelsTest, ZeroEpochsIsRefusedNotRunForever) {
  SpecRun config = Small();
  config.flags.epochs = 0;
  // Without the check this would stream forever; it must return at once.
  auto report = RunSpec(config);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(report.status().message().find("--forever"), std::string::npos)
      << report.status();
}

TEST_F(ParallelModelsTest, ReportFilesAreWrittenWhereverTheNameSays) {
  // A shell would run the command in this name; the files land in it.
  const std::string root = base::NewTestDir("report_files");
  const std::string dir = root + "/out 'x'; touch pwned; '";
  topology::ReportFiles files;
  files.out_dir = dir;
  files.report_json = root + "/nested/deeper/r.json";
  ASSERT_TRUE(topology::CheckReportFiles(files).ok());
  auto report = RunSpec(Small());
  ASSERT_TRUE(report.ok()) << report.status();
  absl::StatusOr<topology::TopologySpec> spec = SpecOf(Small());
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE(topology::WriteReportFiles(*spec, *report, files).ok());
  for (const char* name :
       {"report.json", "curves.svg", "topology.svg", "topology.dot"}) {
    EXPECT_TRUE(std::filesystem::exists(dir + "/" + name)) << name;
  }
  // The run's picture is describe's, of the spec that ran: every component.
  const std::string svg = ReadFile(dir + "/topology.svg");
  EXPECT_EQ(svg, topology::DescribeSvg(*spec));
  for (const char* id : {"source:fashion-mnist/train", "resource:mnist",
                         "resource:solo", "model:solo", "resource:metrics"}) {
    EXPECT_NE(svg.find(absl::StrCat("<title>", id, "</title>")),
              std::string::npos)
        << id;
  }
  EXPECT_FALSE(std::filesystem::exists("pwned"));
  EXPECT_FALSE(std::filesystem::exists(root + "/pwned"));
  report::Json doc = ParseJson(ReadFile(files.report_json));
  EXPECT_EQ(doc["models"][0]["name"], "solo");
  EXPECT_EQ(doc["models"][0]["samples"], 300);
  EXPECT_EQ(ReadFile(dir + "/report.json"), ReadFile(files.report_json));
}

TEST_F(ParallelModelsTest, UnwritableOutputsAreRefusedBeforeTheRun) {
  for (const auto& [json, dir] :
       {std::pair<std::string, std::string>{"/proc/x/y", ""},
        {"", "/proc/x/y"},
        {"/proc/self/r.json", ""}}) {
    topology::ReportFiles files;
    files.report_json = json;
    files.out_dir = dir;
    absl::Status s = topology::CheckReportFiles(files);
    EXPECT_FALSE(s.ok()) << json << dir;
    EXPECT_NE(s.message().find(json.empty() ? "--out_dir" : "--report_json"),
              std::string::npos)
        << s;
    EXPECT_NE(s.message().find("/proc/"), std::string::npos) << s;
  }
  const std::string root = base::NewTestDir("unwritable");
  std::filesystem::create_directories(root + "/a_dir");
  topology::ReportFiles files;
  files.report_json = root + "/a_dir";
  EXPECT_FALSE(topology::CheckReportFiles(files).ok());
}

using Exit = base::ProgramExit;

// Runs the experiment with `args`; it must end within `timeout_s`.
Exit RunExperiment(std::vector<std::string> args, double timeout_s = 20) {
  return base::RunProgramUnderTest(std::move(args), absl::Seconds(timeout_s));
}

TEST_F(ParallelModelsTest, TheBinaryRefusesUnwritableOutputsBeforeLoading) {
  // The data dir does not exist: the output check has to come first to
  // be the error reported (before, training ran and then failed to write).
  Exit r = RunExperiment({"--data_dir=/nonexistent/fmnist",
                          "--report_json=/proc/x/y", "--out_dir="});
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("--report_json"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("/proc/x"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("/nonexistent/fmnist"), std::string::npos)
      << r.output;
  r = RunExperiment({"--data_dir=/nonexistent/fmnist", "--out_dir=/proc/x/y"});
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("--out_dir"), std::string::npos) << r.output;
}

TEST_F(ParallelModelsTest, TheBinaryRefusesZeroEpochsAndNamesForever) {
  Exit r = RunExperiment({"--epochs=0", "--out_dir=", "--train_limit=100"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--forever"), std::string::npos) << r.output;
  r = RunExperiment({"--forever", "--report_json=/tmp/never.json"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("needs a run that ends"), std::string::npos)
      << r.output;
}

TEST_F(ParallelModelsTest, TheBinaryRefusesModelsThatCannotRunWithAReason) {
  // Each refused before training, with what is wrong in the first line.
  for (const auto& [models, expect] :
       std::vector<std::pair<std::string, std::string>>{
           {"softmax:input=3x32x32", "3x32x32"},
           {"softmax:classes=2", "classes=2"},
           {"mlp:hidden=65536x65536", "parameters"}}) {
    SCOPED_TRACE(models);
    Exit r = RunExperiment({"--models=" + models, "--out_dir=",
                            "--train_limit=100", "--test_limit=100"});
    EXPECT_NE(r.code, 0) << r.output;
    EXPECT_NE(r.output.find(expect), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("wall time"), std::string::npos) << r.output;
  }
}

TEST_F(ParallelModelsTest, TheBinaryPrintsEachModelsCostBeforeTraining) {
  Exit r = RunExperiment({"--models=softmax:lr=0.01;mlp:hidden=64",
                          "--out_dir=", "--train_limit=200",
                          "--test_limit=100"},
                         90);
  EXPECT_EQ(r.code, 0) << r.output;
  const size_t softmax = r.output.find("model1 (softmax): 7.8 k parameters");
  const size_t mlp = r.output.find("model2 (mlp): ");
  const size_t banner = r.output.find("trainbus: 2 models");
  ASSERT_NE(softmax, std::string::npos) << r.output;
  ASSERT_NE(mlp, std::string::npos) << r.output;
  ASSERT_NE(banner, std::string::npos) << r.output;
  EXPECT_LT(mlp, banner) << r.output;
}

TEST_F(ParallelModelsTest, TheBinaryWritesIntoAnyOutDirWithoutAShell) {
  const std::string root = base::NewTestDir("binary_out_dir");
  const std::string dir = root + "/it's'; touch " + root + "/pwned; '";
  Exit r = RunExperiment({"--models=softmax:lr=0.01", "--train_limit=200",
                          "--test_limit=100", "--out_dir=" + dir,
                          "--report_json=" + root + "/new/r.json"},
                         90);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir + "/curves.svg")) << r.output;
  EXPECT_FALSE(std::filesystem::exists(root + "/pwned")) << r.output;
  report::Json doc = ParseJson(ReadFile(root + "/new/r.json"));
  EXPECT_EQ(doc["train_samples"], 200);
}

}  // namespace
}  // namespace trainbus

int main(int argc, char** argv) {
  return trainbus::testing::RunTestsWithProgram(argc, argv);
}
