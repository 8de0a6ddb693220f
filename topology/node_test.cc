#include "topology/node.h"

#include <sys/stat.h>

#include <chrono>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/substitute.h"
#include "base/cli_testing.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "base/test_dir.h"
#include "data/idx.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "registry/store.h"
#include "report/json_text.h"
#include "topology/placement.h"
#include "topology/spec.h"

namespace trainbus::topology {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kData[] = "/usr/share/datasets/fashion-mnist";

PlacedReport TwoNodesOneLost() {
  PlacedReport r;
  r.run.name = "t";
  r.run.wall_seconds = 2.25;
  r.run.sources = {{"gen", SourceKind::kIdxGenerator, 4001, 0}};
  r.nodes = {"worker1", "worker2", "worker3"};
  r.lost_nodes = {"worker2"};
  actors::ModelSummary done;
  done.name = "worker1/model1";
  done.test_accuracy = 0.7712;
  done.prequential_accuracy = 0.7001;
  done.steps = 4000;
  done.samples = 4000;
  done.samples_per_second = 1234;
  done.checkpoint = "weights";
  actors::ModelSummary lost;
  lost.name = "worker2/model1";
  lost.test_accuracy = 0.64;
  lost.steps = 1200;
  lost.error = "node worker2 died";
  lost.rejected_shape = 7;
  r.run.models = {done, lost};
  r.placed = {{"worker1", "done", std::string(64, 'a')},
              {"worker2", "lost", ""}};
  return r;
}

TEST(PlacedReportTest, AResultLineHasEveryFigure) {
  const PlacedReport r = TwoNodesOneLost();
  EXPECT_EQ(FormatPlacedResult(r.run.models[0], r.placed[0]),
            "RESULT node=worker1 model=worker1/model1 status=done "
            "test_accuracy=0.7712 prequential_accuracy=0.7001 steps=4000 "
            "samples=4000 samples_per_s=1234 checkpoint_sha256=aaaaaaaaaaaaaaaa");
  actors::ModelSummary m;
  m.name = "m";
  const std::string hub = FormatPlacedResult(m, PlacedModel{"", "done", ""});
  EXPECT_THAT(hub, HasSubstr("node=hub model=m status=done"));
  EXPECT_THAT(hub, HasSubstr("checkpoint_sha256=-"));
}

TEST(PlacedReportTest, TheTableSaysWhereEachModelRanAndWhoWasLost) {
  const std::string text = FormatPlacedReport(TwoNodesOneLost());
  EXPECT_THAT(text, HasSubstr("ERROR: node worker2 died"));
  EXPECT_THAT(text, HasSubstr("worker2/model1: refused 7 sample(s)"));
  EXPECT_THAT(text, HasSubstr("node worker1: worker1/model1 (done)\n"));
  EXPECT_THAT(text, HasSubstr("node worker2: worker2/model1 (lost)\n"));
  EXPECT_THAT(text, HasSubstr("node worker3: no models\n"));
  EXPECT_THAT(text, HasSubstr("3 node(s), 1 lost (worker2); 4001 samples "
                              "published"));
  EXPECT_THAT(FormatPlacedReport(PlacedReport{}),
              HasSubstr("0 node(s), 0 lost;"));
}

TEST(PlacedReportTest, TheJsonIsTheRunsWithNodesStatusAndCheckpoints) {
  const report::Json doc = report::Json::parse(
      PlacedReportToJson(TwoNodesOneLost()), nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  EXPECT_DOUBLE_EQ(doc["wall_seconds"].get<double>(), 2.25);
  EXPECT_EQ(doc["nodes"], report::Json({"worker1", "worker2", "worker3"}));
  EXPECT_EQ(doc["lost_nodes"], report::Json({"worker2"}));
  const report::Json& done = doc["models"][0];
  EXPECT_EQ(done["name"], "worker1/model1");
  EXPECT_EQ(done["node"], "worker1");
  EXPECT_EQ(done["status"], "done");
  EXPECT_EQ(done["checkpoint_sha256"], std::string(64, 'a'));
  EXPECT_FALSE(done.contains("checkpoint"));
  EXPECT_FALSE(done.contains("error"));
  const report::Json& lost = doc["models"][1];
  EXPECT_EQ(lost["status"], "lost");
  EXPECT_EQ(lost["steps"], 1200);
  EXPECT_EQ(lost["error"], "node worker2 died");
  EXPECT_EQ(lost["rejected_shape"], 7);
  EXPECT_EQ(lost["checkpoint_sha256"], "");
}

TEST(NodeMainTest, AnswersHelpAndRefusesBadFlagsBeforeListening) {
  auto run = [](const std::vector<std::string>& args) {
    return base::RunCli(
        [](const std::vector<std::string>& a, std::ostream& out,
           std::ostream& err) { return NodeMain(a, out, err, nullptr); },
        args);
  };
  base::CliRun help = run({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_THAT(help.out, HasSubstr("usage: trainbus node --name=N"));
  const struct {
    std::vector<std::string> args;
    const char* error;
  } kCases[] = {
      {{}, "a node needs --name=N"},
      {{"--name=w1", "--listen=nowhere"}, "--listen (port 0: any free one): "
                                           "'nowhere' is not host:port"},
      {{"--name=w1", "--listen=h:70000"}, "'h:70000' is not host:port"},
      {{"--name=w1", "--timeout_s=-1"}, "bad flag --timeout_s=-1"},
      {{"--name=w1", "--colour=red"}, "unknown or bad flag --colour=red"},
      {{"--name=w1", "stray"}, "unexpected argument 'stray'"},
      {{"--name=w1"}, "give --tls_dir=DIR"},
      {{"--name=w1"}, "or --insecure for plain TCP"},
      {{"--name=w1", "--insecure", "--tls_dir=x"},
       "--insecure (plain TCP) and TLS files together"},
      {{"--name=w1", "--tls_key=k.pem"}, "all three of the certificate"},
  };
  for (const auto& c : kCases) {
    base::CliRun r = run(c.args);
    EXPECT_EQ(r.code, 2) << c.error << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.error));
    EXPECT_THAT(r.out, Not(HasSubstr("LISTENING")));
  }
}

TEST(PlacedRunMainTest, RefusesBadFlagsAndSpecsBeforeConnecting) {
  const std::string dir = base::NewTestDir("placed_flags");
  const std::string spec = dir + "/one.yaml";
  ASSERT_TRUE(base::WriteFileAtomically(spec, R"(
name: one
nodes: [{name: w1}]
sources: [{name: gen, kind: idx, data_dir: /d, output: mnist}]
resources: [{name: mnist}, {name: metrics}]
)").ok());
  auto run = [](const std::vector<std::string>& args) {
    return base::RunCli(
        [](const std::vector<std::string>& a, std::ostream& out,
           std::ostream& err) { return PlacedRunMain(a, out, err, nullptr); },
        args);
  };
  const struct {
    std::vector<std::string> args;
    int code;
    const char* error;
  } kCases[] = {
      {{"--nodes=w1=h:1"}, 2, "give the spec file"},
      {{spec, spec, "--nodes=w1=h:1"}, 2, "unexpected argument"},
      {{spec, "--nodes=w1=h:1", "--timeout_s=0"}, 2,
       "--timeout_s=0: give a number of seconds above 0"},
      {{spec, "--nodes"}, 2, "--nodes needs a value"},
      {{spec, "--nodes=w1=h:1", "--epochs=3"}, 2, "unknown flag(s) --epochs=3"},
      {{spec, "--nodes=w2=h:1"}, 2, "--nodes names node 'w2'"},
      {{spec, "--nodes=w1"}, 2, "'w1' is not NAME=HOST:PORT"},
      {{spec, "--nodes=w1=h:1", "--listen=x"}, 2, "--listen (port 0"},
      {{spec, "--nodes=w1=h:1", "--report_json=/proc/x/y"}, 1,
       "--report_json"},
      {{dir + "/missing.yaml", "--nodes=w1=h:1"}, 1, "missing.yaml"},
      // The hub's dashboard listens before any node is reached.
      {{spec, "--nodes=w1=h:1", "--dashboard=nowhere",
        "--insecure"}, 2,
       "--dashboard='nowhere' is not HOST:PORT"},
      {{spec, "--nodes=w1=h:1"}, 2, "give --tls_dir=DIR"},
      {{spec, "--nodes=w1=h:1", "--tls_dir=" + dir}, 1,
       "make one with `trainbus cluster-certs"},
  };
  for (const auto& c : kCases) {
    base::CliRun r = run(c.args);
    EXPECT_EQ(r.code, c.code) << c.error << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.error));
  }
}

// A node in a thread of this process, on loopback.
class InProcessNode {
 public:
  explicit InProcessNode(NodeOptions options) {
    std::promise<std::string> listening;
    address_ = listening.get_future();
    options.on_listening = [p = std::make_shared<std::promise<std::string>>(
                                std::move(listening))](const std::string& a) {
      p->set_value(a);
    };
    thread_ = std::thread([this, options] { status_ = RunNode(options); });
  }
  ~InProcessNode() {
    if (thread_.joinable()) thread_.join();
  }

  // "host:port", or "" if the node did not listen within 30 s.
  std::string Address() {
    if (address_.wait_for(std::chrono::seconds(30)) !=
        std::future_status::ready) {
      return "";
    }
    return address_.get();
  }
  // Waits for the node's run to end (it has its own deadline).
  absl::Status Join() {
    thread_.join();
    return status_;
  }

 private:
  std::future<std::string> address_;
  std::thread thread_;
  absl::Status status_;
};

// A hub stream of 300 Fashion-MNIST samples and one model on w1, evaluated
// on `eval_dir`; finished models are saved in `registry` unless it is "".
std::string OneNodeSpec(const std::string& eval_dir,
                        const std::string& registry = "") {
  return absl::Substitute(R"(
name: one
$2
nodes: [{name: w1}]
evaluation: {data_dir: $1, limit: 200}
sources: [{name: gen, kind: idx, data_dir: $0, output: mnist, limit: 300}]
resources: [{name: mnist}, {name: metrics}, {name: m1, node: w1}]
bindings: [{from: mnist, to: m1, filter: labelled}]
models:
  - {name: m1, spec: "softmax:lr=0.01", input: m1, output: metrics,
     eval_every: 100, node: w1}
)",
                          kData, eval_dir,
                          registry.empty()
                              ? ""
                              : absl::StrCat("registry: {dir: ", registry, "}"));
}

class PlacedRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st;
    ASSERT_EQ(::stat(kData, &st), 0) << kData << " is missing: run setup.sh";
  }
};

// Runs OneNodeSpec(eval_dir) with w1 on `node` (in this process).
absl::StatusOr<PlacedReport> RunOnNode(InProcessNode& node,
                                       const std::string& eval_dir,
                                       const PlacedOptions& options,
                                       const std::string& registry = "") {
  const std::string address = node.Address();
  if (address.empty()) return absl::DeadlineExceededError("w1 never listened");
  const std::string text = OneNodeSpec(eval_dir, registry);
  TB_ASSIGN_OR_RETURN(TopologySpec spec, ParseSpec(text));
  TB_ASSIGN_OR_RETURN(Placement placement, Place(spec, {{"w1", address}}));
  return RunPlaced(spec, text, placement, options);
}

NodeOptions W1() {
  NodeOptions n;
  n.name = "w1";
  n.timeout_s = 60;
  n.tls.insecure = true;
  return n;
}

// Plain TCP (the TLS runs are //bus:tls_test and //tests:cluster_test).
PlacedOptions Insecure() {
  PlacedOptions options;
  options.print = false;
  options.tls.insecure = true;
  return options;
}

TEST_F(PlacedRunTest, ANodeBuildsItsPartWithTheHubsRunFlags) {
  std::vector<std::string> seen_on_node;
  NodeOptions n = W1();
  n.apply_args = [&](const std::vector<std::string>& args, TopologySpec*) {
    seen_on_node = args;
    return absl::OkStatus();
  };
  InProcessNode node(n);
  PlacedOptions options = Insecure();
  options.run_args = {"--seed=1"};
  options.timeout_s = 60;
  const std::string registry = base::NewTestDir("placed_registry");
  absl::StatusOr<PlacedReport> report =
      RunOnNode(node, kData, options, registry);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(node.Join().ok());
  EXPECT_EQ(seen_on_node, options.run_args);
  ASSERT_EQ(report->run.models.size(), 1u);
  ASSERT_EQ(report->placed.size(), 1u);
  const actors::ModelSummary& m = report->run.models[0];
  EXPECT_EQ(report->placed[0].part, "w1");
  EXPECT_EQ(report->placed[0].status, "done") << m.error;
  EXPECT_EQ(m.samples, 300u);
  EXPECT_EQ(report->placed[0].checkpoint_sha256.size(), 64u);
  EXPECT_FALSE(m.checkpoint.empty());
  ASSERT_EQ(report->run.sources.size(), 1u);
  EXPECT_EQ(report->run.sources[0].published, 300u);
  EXPECT_EQ(report->run.train_samples, 300u);
  EXPECT_EQ(report->nodes, std::vector<std::string>{"w1"});
  EXPECT_TRUE(report->lost_nodes.empty());
  // The hub saved the node's model, with the checkpoint it was sent.
  registry::StoreOptions store_options;
  store_options.root = registry;
  auto store = registry::Store::Open(store_options);
  ASSERT_TRUE(store.ok()) << store.status();
  auto models = (*store)->FindModels({});
  ASSERT_TRUE(models.ok()) << models.status();
  ASSERT_EQ(models->size(), 1u);
  EXPECT_EQ((*models)[0].name, "m1");
  EXPECT_EQ((*models)[0].project, "one");
}

TEST_F(PlacedRunTest, WithoutNodesTheHubRunsEveryPart) {
  const std::string text = OneNodeSpec(kData);
  absl::StatusOr<TopologySpec> spec = ParseSpec(text);
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::StatusOr<Placement> local = Place(*spec, {});
  ASSERT_TRUE(local.ok()) << local.status();
  PlacedOptions options = Insecure();
  options.timeout_s = 60;
  absl::StatusOr<PlacedReport> report = RunPlaced(*spec, text, *local, options);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->placed.size(), 1u);
  EXPECT_EQ(report->placed[0].part, "");
  EXPECT_EQ(report->placed[0].status, "done");
  EXPECT_EQ(report->run.models[0].samples, 300u);
  EXPECT_TRUE(report->nodes.empty());
  EXPECT_TRUE(HasNodesFlag({"x.yaml", "--nodes=a=h:1"}));
  EXPECT_TRUE(HasNodesFlag({"x.yaml", "--nodes", "a=h:1"}));
  EXPECT_FALSE(HasNodesFlag({"x.yaml", "--nodes_file=y"}));
}

// A model that cannot read the data is refused on its node before the
// stream starts; the hub's error names the node and both shapes.
TEST_F(PlacedRunTest, ANodeRefusesDataItsModelsCannotRead) {
  const std::string dir = base::NewTestDir("mnist_4x4");
  data::Dataset tiny;
  tiny.rows = tiny.cols = 4;
  tiny.count = 20;
  tiny.pixels.assign(20 * 16, 7);
  for (size_t i = 0; i < 20; ++i) tiny.labels.push_back(i % 10);
  ASSERT_TRUE(data::WriteMnistDir(dir, tiny, tiny).ok());
  InProcessNode node(W1());
  PlacedOptions options = Insecure();
  absl::StatusOr<PlacedReport> report = RunOnNode(node, dir, options);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(report.status().message(),
              HasSubstr("node 'w1' could not build its part"));
  EXPECT_THAT(report.status().message(), HasSubstr("4x4 samples"));
  EXPECT_THAT(report.status().message(), HasSubstr("1x28x28"));
  absl::Status node_status = node.Join();
  EXPECT_EQ(node_status.code(), absl::StatusCode::kInvalidArgument)
      << node_status;
}

}  // namespace
}  // namespace trainbus::topology
