// The cluster hub's report formatters and the local demo's command lines.
#include <signal.h>

#include <algorithm>
#include <string>
#include <vector>

#include "actors/topology/cluster.h"
#include "gtest/gtest.h"
#include "report/json_text.h"

namespace trainbus::actors {
namespace {

ClusterModelResult Result(const std::string& worker, const std::string& status,
                          double test_accuracy, uint64_t steps) {
  ClusterModelResult r;
  r.worker = worker;
  r.model = worker + "/model1";
  r.status = status;
  r.test_accuracy = test_accuracy;
  r.steps = steps;
  r.samples = steps;
  return r;
}

HubReport TwoWorkersOneLost() {
  HubReport r;
  r.train_samples = 4000;
  r.published = 4001;
  r.wall_seconds = 2.25;
  r.workers = {"worker1", "worker2"};
  r.lost_workers = {"worker2"};
  r.models = {Result("worker1", "done", 0.7712, 4000),
              Result("worker2", "lost", 0.64, 1200)};
  r.models[0].prequential_accuracy = 0.701;
  r.models[0].samples_per_second = 1999.6;
  r.models[1].error = "worker died before the end of the stream";
  return r;
}

TEST(ClusterReportTest, AResultLineHasEveryFigure) {
  EXPECT_EQ(FormatResultLine(TwoWorkersOneLost().models[0]),
            "RESULT worker=worker1 model=worker1/model1 status=done "
            "test_accuracy=0.7712 prequential_accuracy=0.7010 steps=4000 "
            "samples=4000 samples_per_s=2000");
}

TEST(ClusterReportTest, TheSummaryHasARowPerModelAndNamesTheLost) {
  const std::string text = FormatHubSummary(TwoWorkersOneLost());
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4) << text;
  EXPECT_NE(text.find("worker2/model1"), std::string::npos) << text;
  EXPECT_NE(text.find("lost       0.6400"), std::string::npos) << text;
  EXPECT_NE(text.find("2 worker(s), 1 lost (worker2); 4001 samples published "
                      "in 2.2 s"),
            std::string::npos)
      << text;
  HubReport none;
  EXPECT_NE(FormatHubSummary(none).find("0 worker(s), 0 lost;"),
            std::string::npos);
}

TEST(ClusterReportTest, TheJsonReportParsesWithEveryField) {
  const std::string text = HubReportToJson(TwoWorkersOneLost());
  report::Json doc =
      report::Json::parse(text, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(doc.is_discarded()) << text;
  EXPECT_EQ(doc["train_samples"], 4000);
  EXPECT_EQ(doc["published"], 4001);
  EXPECT_DOUBLE_EQ(doc["wall_seconds"].get<double>(), 2.25);
  EXPECT_EQ(doc["workers"], report::Json({"worker1", "worker2"}));
  EXPECT_EQ(doc["lost_workers"], report::Json({"worker2"}));
  ASSERT_EQ(doc["models"].size(), 2u);
  report::Json& lost = doc["models"][1];
  EXPECT_EQ(lost["status"], "lost");
  EXPECT_EQ(lost["steps"], 1200);
  EXPECT_DOUBLE_EQ(lost["test_accuracy"].get<double>(), 0.64);
  EXPECT_EQ(lost["error"], "worker died before the end of the stream");
  EXPECT_FALSE(doc["models"][0].contains("error"));
  // The field order of the text report stays what readers know.
  std::vector<std::string> keys;
  for (const auto& [key, value] : doc["models"][0].items()) keys.push_back(key);
  // New fields come after the old ones.
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "worker", "model", "status", "test_accuracy",
                      "prequential_accuracy", "steps", "samples",
                      "rejected_shape", "rejected_label", "warnings"}));
  EXPECT_EQ(doc["models"][0]["rejected_shape"], 0);
  EXPECT_EQ(doc["models"][0]["warnings"], report::Json::array());
}

TEST(ClusterReportTest, RejectionsAndWarningsAreReportedWhenThereAreAny) {
  HubReport r = TwoWorkersOneLost();
  const std::string plain = FormatHubSummary(r);
  EXPECT_EQ(plain.find("refused"), std::string::npos) << plain;
  EXPECT_EQ(plain.find("warning"), std::string::npos) << plain;
  r.models[0].rejected_shape = 7;
  r.models[0].rejected_label = 2;
  r.models[1].warnings = {"training accuracy 0.1000 at chance"};
  const std::string text = FormatHubSummary(r);
  EXPECT_NE(text.find("worker1/model1: refused 7 sample(s) whose shape did "
                      "not fit its input and 2 with a label >= its classes"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("worker2/model1 warning: training accuracy 0.1000 at "
                      "chance"),
            std::string::npos)
      << text;
  report::Json doc = report::Json::parse(HubReportToJson(r), nullptr,
                                         /*allow_exceptions=*/false);
  ASSERT_FALSE(doc.is_discarded());
  EXPECT_EQ(doc["models"][0]["rejected_shape"], 7);
  EXPECT_EQ(doc["models"][0]["rejected_label"], 2);
  EXPECT_EQ(doc["models"][1]["warnings"],
            report::Json({"training accuracy 0.1000 at chance"}));
}

bool Has(const std::vector<std::string>& args, const std::string& arg) {
  return std::find(args.begin(), args.end(), arg) != args.end();
}

TEST(LocalDemoTest, TheDemosFlagsReachItsChildren) {
  LocalDemoConfig config;
  config.program = "/bin/cluster";
  config.workers = 3;
  config.train_limit = 500;
  config.epochs = 2;
  config.rate = 750;
  config.models = "a=softmax:lr=0.02";
  config.test_limit = 321;
  config.report_json = "/tmp/it's here/r.json";
  config.timeout_s = 42;
  const auto commands = LocalDemoCommands(config);
  ASSERT_EQ(commands.size(), 4u);
  const std::vector<std::string>& hub = commands[0];
  EXPECT_EQ(hub[0], "/bin/cluster");
  for (const char* arg : {"--role=hub", "--workers=3", "--train_limit=500",
                          "--epochs=2", "--rate=750", "--timeout_s=42",
                          "--report_json=/tmp/it's here/r.json"}) {
    EXPECT_TRUE(Has(hub, arg)) << arg;
  }
  EXPECT_FALSE(Has(hub, "--forever"));
  for (size_t i = 1; i < commands.size(); ++i) {
    const std::vector<std::string>& w = commands[i];
    EXPECT_TRUE(Has(w, "--role=worker"));
    EXPECT_TRUE(Has(w, "--name=worker" + std::to_string(i)));
    EXPECT_TRUE(Has(w, "--models=a=softmax:lr=0.02"));
    EXPECT_TRUE(Has(w, "--test_limit=321"));
    EXPECT_TRUE(Has(w, "--timeout_s=42"));
  }
  config.forever = true;
  config.models.clear();
  const auto preset = LocalDemoCommands(config);
  EXPECT_TRUE(Has(preset[0], "--forever"));
  // Without --models, the demo's own: two models on worker1, one on worker2.
  EXPECT_NE(preset[1][3].find("model2="), std::string::npos) << preset[1][3];
  EXPECT_EQ(preset[2][3].find("model2="), std::string::npos) << preset[2][3];
}

}  // namespace
}  // namespace trainbus::actors
