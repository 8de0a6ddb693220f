// `trainbus serve`: its flags in process, and the real binary end to end
// (start on a free port, answer, stop cleanly on SIGTERM).
#include "serving/serve_main.h"

#include <signal.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "base/cli_testing.h"
#include "base/file.h"
#include "base/subprocess.h"
#include "base/test_dir.h"
#include "data/image.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "kernels/nn/model.h"
#include "registry/store.h"
#include "serving/rest_api.h"
#include "serving/serving_testing.h"

namespace trainbus::serving {
namespace {

const char* g_trainbus = nullptr;

using base::CliRun;

CliRun Serve(const std::vector<std::string>& args) {
  return base::RunCli(ServeMain, args);
}

// A registry holding model `name` version 1 (an untrained softmax).
std::string RegistryWithModel(const std::string& name) {
  registry::StoreOptions options;
  options.root = base::NewTestDir("serve_main");
  auto store = registry::Store::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  auto spec = nn::ParseModelSpec("softmax");
  EXPECT_TRUE(spec.ok()) << spec.status();
  auto model = nn::MakeModel(*spec);
  EXPECT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE((*store)
                  ->SaveModel("", name, nn::FormatModelSpec(*spec),
                              (*model)->SaveCheckpoint(), {})
                  .ok());
  return options.root;
}

TEST(ServeMainTest, BadFlagsAreUsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {{}, "--model is required"},
      {{"--model=m", "--colour=red"}, "unknown flag --colour"},
      {{"--model=m", "--port=70000"}, "--port wants 0..65535, got '70000'"},
      {{"--model=m", "--port", "http"}, "--port wants 0..65535, got 'http'"},
      {{"--model=m", "--max_body_bytes=0"}, "--max_body_bytes wants a number > 0"},
      {{"--model"}, "--model needs a value"},
      {{"--model=m", "--replicas=0"}, "--replicas wants 1..256, got '0'"},
      {{"--model=m", "--max_batch_size=x"}, "--max_batch_size wants 1.."},
      {{"--model=m", "--num_batch_threads=0"}, "--num_batch_threads wants 1.."},
      {{"--model=m", "--max_enqueued_batches=-1"}, "--max_enqueued_batches wants 1.."},
      {{"--model=m", "--batch_timeout_micros=-5"}, "--batch_timeout_micros wants 0.."},
      {{"--model=m", "--poll_interval_s=-1"}, "--poll_interval_s wants seconds"},
      {{"--model=m", "--http_threads=0"}, "--http_threads wants 1..4096"},
      {{"--model=m", "--replica_kind=gpu"}, "--replica_kind wants local or actor"},
      {{"m"}, "unexpected argument 'm'"},
  };
  for (const Case& c : cases) {
    CliRun run = Serve(c.args);
    EXPECT_EQ(run.code, 2) << c.expect;
    EXPECT_NE(run.err.find(c.expect), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("usage: trainbus serve"), std::string::npos);
  }
  CliRun help = Serve({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("usage: trainbus serve"), std::string::npos);
}

TEST(ServeMainTest, MissingRegistryOrModelIsAnError) {
  CliRun no_registry = Serve({"--registry_dir=" + base::NewTestDir("none") + "/x",
                           "--model=m"});
  EXPECT_EQ(no_registry.code, 1);
  EXPECT_NE(no_registry.err.find("trainbus serve: "), std::string::npos);
  CliRun no_model = Serve({"--registry_dir=" + RegistryWithModel("shirts"),
                        "--model=trousers"});
  EXPECT_EQ(no_model.code, 1);
  EXPECT_NE(no_model.err.find("no model 'trousers'"), std::string::npos)
      << no_model.err;
}

TEST(ServeMainTest, TheBinaryServesUntilSigterm) {
  ASSERT_NE(g_trainbus, nullptr);
  const std::string registry_dir = RegistryWithModel("shirts");
  auto child = base::Subprocess::Spawn(
      {g_trainbus, "serve", "--registry_dir=" + registry_dir,
       "--model=shirts", "--port=0", "--replicas=2", "--max_batch_size=4",
       "--batch_timeout_micros=100", "--num_batch_threads=1",
       "--max_enqueued_batches=8", "--poll_interval_s=0.05"},
      {.pipe_stdout = true});
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<std::string> line = child->ReadLine(absl::Seconds(60));
  ASSERT_TRUE(line.ok()) << line.status();
  const std::string marker = "on http://127.0.0.1:";
  const size_t at = line->find(marker);
  ASSERT_NE(at, std::string::npos) << *line;
  EXPECT_NE(line->find("serving default/shirts (versions 1; labels none)"),
            std::string::npos)
      << *line;
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(line->substr(at + marker.size()), &port)) << *line;

  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(30, 0);
  httplib::Result status = client.Get("/v1/models/shirts");
  ASSERT_TRUE(status) << httplib::to_string(status.error());
  EXPECT_EQ(status->status, 200);
  EXPECT_NE(status->body.find("\"AVAILABLE\""), std::string::npos) << status->body;
  auto png = data::EncodePng(data::Image(28, 28, 0));
  ASSERT_TRUE(png.ok()) << png.status();
  httplib::Result classify = client.Post(
      "/v1/models/shirts:classify", std::string(png->begin(), png->end()),
      "image/png");
  ASSERT_TRUE(classify) << httplib::to_string(classify.error());
  EXPECT_EQ(classify->status, 200) << classify->body;

  httplib::Result metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics) << httplib::to_string(metrics.error());
  EXPECT_NE(metrics->body.find("trainbus_serving_requests_total{model=\"shirts\","
                               "version=\"1\",status=\"200\"} 1\n"),
            std::string::npos)
      << metrics->body;

  // Real clients: the README's curl line, and python3-requests with a
  // base64 example.
  const std::string png_path = registry_dir + "/blank.png";
  ASSERT_TRUE(base::WriteFileAtomically(
                  png_path, std::string(png->begin(), png->end()))
                  .ok());
  const std::string base_url = "http://127.0.0.1:" + std::to_string(port);
  // -w '\n': base::RunProgram keeps only whole lines, and the JSON body
  // ends without a newline.
  absl::StatusOr<base::ProgramRun> curl = base::RunProgram(
      {"/usr/bin/curl", "-sS", "-w", "\\n", "--data-binary", "@" + png_path, "-H",
       "Content-Type: image/png", base_url + "/v1/models/shirts:classify"},
      absl::Seconds(60));
  ASSERT_TRUE(curl.ok()) << curl.status();
  EXPECT_TRUE(curl->exit.success()) << curl->output;
  EXPECT_EQ(curl->output.rfind("{\"result\":[[[\"0\",", 0), 0u) << curl->output;
  absl::StatusOr<base::ProgramRun> python = base::RunProgram(
      {"/usr/bin/python3", "-c",
       "import base64, sys, requests\n"
       "png = open(sys.argv[2], 'rb').read()\n"
       "r = requests.post(sys.argv[1] + '/v1/models/shirts:classify', json={\n"
       "    'examples': [{'image': {'b64': base64.b64encode(png).decode()}}]})\n"
       "assert r.status_code == 200, r.text\n"
       "assert len(r.json()['result'][0]) == 10, r.text\n"
       "bad = requests.post(sys.argv[1] + '/v1/models/shirts:predict', data='{')\n"
       "assert bad.status_code == 400 and 'not valid JSON' in bad.json()['error']\n"
       "m = requests.get(sys.argv[1] + '/metrics')\n"
       "assert m.headers['Content-Type'].startswith('text/plain; version=0.0.4')\n"
       "print('ok')\n",
       base_url, png_path},
      absl::Seconds(60));
  ASSERT_TRUE(python.ok()) << python.status();
  EXPECT_TRUE(python->exit.success()) << python->output;
  EXPECT_EQ(python->output, "ok\n");

  // Another process (this one) adds a version and moves an alias; the
  // server, whose registry connection is read-only, picks both up.
  {
    registry::StoreOptions options;
    options.root = registry_dir;
    auto store = registry::Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_EQ(testing::SaveTrainedSoftmax(**store, "", "shirts", 5), 2);
    ASSERT_TRUE((*store)->SetAlias("", "shirts", "production", 2).ok());
  }
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        httplib::Result r = client.Post(
            "/v1/models/shirts/labels/production:classify",
            std::string(png->begin(), png->end()), "image/png");
        return r && r->status == 200 &&
               r->get_header_value(kModelVersionHeader) == "2";
      },
      "the server to serve version 2 as production"));

  ASSERT_TRUE(child->Signal(SIGTERM).ok());
  absl::StatusOr<base::ExitStatus> exit = child->WaitOrKill(absl::Seconds(60));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->success()) << exit->Describe();
  absl::StatusOr<std::string> last = child->ReadLine(absl::Seconds(10));
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, "stopped on signal " + std::to_string(SIGTERM));
}

}  // namespace
}  // namespace trainbus::serving

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <path to trainbus>\n", argv[0]);
    return 2;
  }
  trainbus::serving::g_trainbus = argv[1];
  return RUN_ALL_TESTS();
}
