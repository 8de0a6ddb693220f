#include "topology/cli.h"

#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "base/cli_testing.h"
#include "base/file.h"
#include "base/test_dir.h"
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
            "4 bindings, 4 models, 1 consumer, 0 nodes\n");
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

}  // namespace
}  // namespace trainbus::topology
