// Issue 12's done-when, end to end at small scale: a sweep trains two
// models into a registry and aliases the winner `best`; `trainbus serve`
// serves that model; real curl posts a PNG to .../labels/best:classify (the
// README's line) and gets the scores the model's own Predict gives.
//
//   serve_best_test <path to sweep> <path to trainbus>
#include <signal.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/file.h"
#include "base/subprocess.h"
#include "base/test_dir.h"
#include "data/idx.h"
#include "data/image.h"
#include "gtest/gtest.h"
#include "kernels/nn/model.h"
#include "nlohmann/json.hpp"
#include "registry/store.h"

namespace trainbus {
namespace {

std::string g_sweep, g_trainbus;

constexpr char kProject[] = "fashion-mnist";  // the sweep's default project
constexpr size_t kTrain = 400, kTest = 200;

// `argv` run to its end within `timeout`; a failure to start or finish
// fails the test with the program's output.
base::ProgramRun RunOrFail(const std::vector<std::string>& argv,
                           absl::Duration timeout) {
  absl::StatusOr<base::ProgramRun> run = base::RunProgram(argv, timeout);
  EXPECT_TRUE(run.ok()) << argv[0] << ": " << run.status();
  return run.ok() ? *std::move(run) : base::ProgramRun{};
}

// The text after `prefix` up to the next space, in the line holding it.
std::string Field(const std::string& text, const std::string& prefix) {
  const size_t at = text.find(prefix);
  if (at == std::string::npos) return "";
  const size_t begin = at + prefix.size();
  return text.substr(begin, text.find_first_of(" \n", begin) - begin);
}

TEST(ServeBestTest, SweepAliasesBestAndServeAnswersCurl) {
  ASSERT_FALSE(g_sweep.empty() || g_trainbus.empty())
      << "usage: serve_best_test <sweep> <trainbus>";
  const std::string dir = base::NewTestDir("serve_best");
  // A small slice of Fashion-MNIST keeps each task to a second or two.
  absl::StatusOr<data::MnistSplits> mnist =
      data::LoadMnistDir(data::kDefaultMnistDir);
  ASSERT_TRUE(mnist.ok()) << mnist.status()
                          << " (tools/setup.sh installs dataset-fashion-mnist)";
  const std::string data_dir = dir + "/data";
  const std::string registry_dir = dir + "/registry";
  ASSERT_TRUE(base::CreateDirectories(data_dir).ok());
  ASSERT_TRUE(data::WriteMnistDir(data_dir, data::Slice(mnist->train, kTrain),
                                  data::Slice(mnist->test, kTest))
                  .ok());

  base::ProgramRun sweep = RunOrFail(
      {g_sweep, "--registry_dir=" + registry_dir, "--data_dir=" + data_dir,
       "--sweep=tiny", "--grid=model=softmax;lr=0.002,0.02", "--runners=1",
       "--timeout_s=100"},
      absl::Seconds(120));
  ASSERT_EQ(sweep.exit.ShellCode(), 0) << sweep.output;
  const std::string best = Field(sweep.output, "best model aliased 'best': ");
  ASSERT_FALSE(best.empty()) << sweep.output;
  // The sweep's own hint names the command below.
  EXPECT_EQ(Field(sweep.output, "serve it: trainbus serve --registry_dir=" +
                                    registry_dir + " --model="),
            absl::StrCat(kProject, "/", best))
      << sweep.output;

  // What the registry says `best` is, and that model's own scores.
  registry::StoreOptions options;
  options.root = registry_dir;
  options.read_only = true;
  auto store = registry::Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<int64_t> version =
      (*store)->ResolveAlias(kProject, best, "best");
  ASSERT_TRUE(version.ok()) << version.status();
  absl::StatusOr<std::string> checkpoint =
      (*store)->LoadModelBlob(kProject, best, *version);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  auto model = nn::LoadModel(*checkpoint);
  ASSERT_TRUE(model.ok()) << model.status();
  const data::Dataset& test = mnist->test;
  std::vector<float> x(test.image_size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = test.image(0)[i] / 255.0f;
  std::vector<float> expected(10);
  ASSERT_TRUE((*model)->Predict(x.data(), 1, expected.data()).ok());

  const std::string png_path = dir + "/sample.png";
  data::Image sample(test.cols, test.rows);
  std::copy(test.image(0), test.image(0) + test.image_size(),
            sample.pixels.begin());
  auto png = data::EncodePng(sample);
  ASSERT_TRUE(png.ok()) << png.status();
  ASSERT_TRUE(base::WriteFileAtomically(
                  png_path, std::string(png->begin(), png->end()))
                  .ok());

  auto server = base::Subprocess::Spawn(
      {g_trainbus, "serve", "--registry_dir=" + registry_dir,
       absl::StrCat("--model=", kProject, "/", best), "--port=0"},
      {.pipe_stdout = true});
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<std::string> line = server->ReadLine(absl::Seconds(30));
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_NE(line->find("labels best"), std::string::npos) << *line;
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(Field(*line, "on http://127.0.0.1:"), &port))
      << *line;
  const std::string base_url =
      absl::StrCat("http://127.0.0.1:", port, "/v1/models/", best);

  base::ProgramRun status = RunOrFail(
      {"/usr/bin/curl", "-sS", "--max-time", "30", base_url + "/labels/best"},
      absl::Seconds(40));
  ASSERT_EQ(status.exit.ShellCode(), 0) << status.output;
  EXPECT_NE(status.output.find(absl::StrCat("\"version\":\"", *version, "\"")),
            std::string::npos)
      << status.output;

  base::ProgramRun classify = RunOrFail(
      {"/usr/bin/curl", "-sS", "--fail-with-body", "--max-time", "30",
       "--data-binary", "@" + png_path, "-H", "Content-Type: image/png",
       base_url + "/labels/best:classify"},
      absl::Seconds(40));
  ASSERT_EQ(classify.exit.ShellCode(), 0) << classify.output;
  nlohmann::json answer = nlohmann::json::parse(classify.output, nullptr,
                                                /*allow_exceptions=*/false);
  ASSERT_FALSE(answer.is_discarded()) << classify.output;
  ASSERT_TRUE(answer.contains("result") && answer["result"].size() == 1)
      << classify.output;
  const nlohmann::json& row = answer["result"][0];
  ASSERT_EQ(row.size(), expected.size()) << classify.output;
  for (size_t c = 0; c < expected.size(); ++c) {
    EXPECT_EQ(row[c][0], std::to_string(c)) << classify.output;
    EXPECT_NEAR(row[c][1].get<float>(), expected[c], 1e-6) << "class " << c;
  }

  ASSERT_TRUE(server->Signal(SIGTERM).ok());
  absl::StatusOr<base::ExitStatus> exit = server->WaitOrKill(absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->success()) << exit->Describe();
}

}  // namespace
}  // namespace trainbus

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc == 3) {
    trainbus::g_sweep = argv[1];
    trainbus::g_trainbus = argv[2];
  }
  return RUN_ALL_TESTS();
}
