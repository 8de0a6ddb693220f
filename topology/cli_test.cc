#include "topology/cli.h"

#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/cli_testing.h"
#include "base/file.h"
#include "base/test_dir.h"
#include "data/idx.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trainbus::topology {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kExample[] = "experiments/parallel_models.yaml";

using Outcome = base::CliRun;

Outcome Validate(const std::vector<std::string>& args) {
  return base::RunCli(ValidateMain, args);
}

Outcome Describe(const std::vector<std::string>& args) {
  return base::RunCli(DescribeMain, args);
}

std::string WriteSpec(const std::string& text) {
  const std::string path = base::NewTestDir("cli") + "/spec.yaml";
  EXPECT_TRUE(base::WriteFileAtomically(path, text).ok());
  return path;
}

TEST(Validate, ValidSpecPrintsOneLineAndExitsZero) {
  Outcome r = Validate({kExample});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "experiments/parallel_models.yaml: valid: 1 source, 6 resources, "
            "4 bindings, 4 models, 0 consumers, 0 nodes\n");
  EXPECT_EQ(r.err, "");
}

TEST(Validate, InvalidSpecPrintsEveryErrorAndExitsTwo) {
  const std::string path = WriteSpec(
      "resources: [{name: a, colour: red}]\n"
      "bindings: [{from: a, to: b}]\n");
  Outcome r = Validate({path});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  std::vector<std::string> lines =
      absl::StrSplit(r.err, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << r.err;
  EXPECT_THAT(lines[0], StartsWith(path + ":1:23: resource 'a': unknown key "
                                          "'colour'"));
  EXPECT_THAT(lines[1], StartsWith(path + ":2:26: binding 'a->b': 'to'"));
}

TEST(Validate, UnreadableFileExitsOne) {
  Outcome r = Validate({"/nonexistent/spec.yaml"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/spec.yaml"));
}

TEST(Validate, BadCommandLinesExitTwoWithUsage) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{},
                                               {"--format=dot", kExample},
                                               {kExample, "other.yaml"},
                                               {"--bogus"}}) {
    Outcome r = Validate(args);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr("usage: trainbus validate SPEC"));
  }
}

TEST(Validate, HelpExitsZero) {
  Outcome r = Validate({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, StartsWith("usage: trainbus validate"));
}

TEST(Describe, TableByDefaultAndDotOnRequest) {
  Outcome table = Describe({kExample});
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_THAT(table.out, StartsWith("topology parallel_models: 1 source"));
  EXPECT_THAT(table.out, HasSubstr("BINDINGS\n"));
  EXPECT_EQ(Describe({kExample, "--format=table"}).out, table.out);
  Outcome dot = Describe({"--format=dot", kExample});
  EXPECT_EQ(dot.code, 0) << dot.err;
  EXPECT_THAT(dot.out, StartsWith("digraph \"parallel_models\" {"));
  EXPECT_THAT(dot.out, HasSubstr("\"model:model4\" -> \"resource:metrics\";"));
}

TEST(Describe, RefusesAnInvalidSpecAndABadFormat) {
  Outcome invalid = Describe({WriteSpec("resources: 3\n")});
  EXPECT_EQ(invalid.code, 2);
  EXPECT_EQ(invalid.out, "");
  EXPECT_THAT(invalid.err,
              HasSubstr(":1:12: spec: 'resources' must be a list"));
  Outcome format = Describe({kExample, "--format=svg"});
  EXPECT_EQ(format.code, 2);
  EXPECT_THAT(format.err, HasSubstr("--format is 'svg'; use table or dot"));
  EXPECT_EQ(Describe({"-h"}).code, 0);
}

Outcome RunCommand(const std::vector<std::string>& args) {
  return base::RunCli(RunMain, args);
}

// A one-model spec on 40 synthetic training and 20 test images.
std::string TinyRunSpec() {
  const std::string dir = base::NewTestDir("cli_data");
  data::Dataset d;
  d.rows = d.cols = 28;
  for (size_t i = 0; i < 40; ++i, ++d.count) {
    d.labels.push_back(static_cast<uint8_t>(i % 10));
    d.pixels.resize(d.pixels.size() + d.image_size(), static_cast<uint8_t>(i));
  }
  EXPECT_TRUE(data::WriteMnistDir(dir, d, data::Slice(d, 20)).ok());
  return WriteSpec(absl::StrCat(R"(
name: tiny_run
sources: [{name: train, kind: idx, data_dir: )", dir, R"(, output: mnist}]
resources: [{name: mnist}, {name: m}, {name: metrics}]
bindings: [{from: mnist, to: m, filter: labelled}]
models: [{name: m, spec: softmax, input: m, output: metrics, eval_every: 10}]
)"));
}

TEST(Run, RunsASpecPrintsTheTableAndWritesTheReport) {
  const std::string out_dir = base::NewTestDir("cli_run_out");
  Outcome r = RunCommand({TinyRunSpec(), "--quiet", "--epochs=2",
                   "--out_dir=" + out_dir});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("model    kind"));
  EXPECT_THAT(r.out, HasSubstr("wall time"));
  EXPECT_THAT(r.out, HasSubstr("for 40 samples x 2 epoch(s)"));
  for (const char* name :
       {"report.json", "curves.svg", "topology.svg", "topology.dot"}) {
    EXPECT_TRUE(base::ReadFile(out_dir + "/" + name).ok()) << name;
  }
  absl::StatusOr<std::string> json = base::ReadFile(out_dir + "/report.json");
  ASSERT_TRUE(json.ok());
  EXPECT_THAT(*json, HasSubstr("\"train_samples\":40"));
}

TEST(Run, BadCommandLinesSayWhatIsWrong) {
  for (const auto& [args, expect] :
       std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{}, "missing SPEC"},
           {{"--epochs=2"}, "missing SPEC"},
           {{kExample, "--epochs=two"}, "--epochs='two' is not"},
           {{kExample, "--colour=blue"}, "unknown flag '--colour'"},
           {{kExample, "--epochs=0"}, "--forever"},
           {{kExample, "--forever", "--report_json=/tmp/x.json"},
            "needs a run that ends"},
           {{WriteSpec("resources: 3\n")}, "'resources' must be a list"}}) {
    Outcome r = RunCommand(args);
    EXPECT_EQ(r.code, 2) << expect << r.err;
    EXPECT_THAT(r.err, HasSubstr(expect));
  }
  Outcome unwritable =
      RunCommand({kExample, "--report_json=/proc/x/y", "--out_dir="});
  EXPECT_EQ(unwritable.code, 1);
  EXPECT_THAT(unwritable.err, HasSubstr("--report_json"));
  Outcome missing = RunCommand({"/nonexistent/spec.yaml"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err, HasSubstr("/nonexistent/spec.yaml"));
}

TEST(Run, AnswersHelp) {
  for (const char* help : {"--help", "-h", "help"}) {
    Outcome r = RunCommand({help});
    EXPECT_EQ(r.code, 0);
    EXPECT_THAT(r.out, StartsWith("usage: trainbus run SPEC"));
  }
  EXPECT_THAT(RunCommand({kExample, "--help"}).out, StartsWith("usage: trainbus run"));
}

}  // namespace
}  // namespace trainbus::topology
